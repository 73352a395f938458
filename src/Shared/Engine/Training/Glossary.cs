namespace Distributed.Shared.Training;

/// <summary>
/// The words the code uses, one meaning each (the type that holds each is named in brackets).
/// <list type="bullet">
/// <item><b>run</b>: one training job from its options and seed to its final weights (<see cref="TrainingRun"/>); its id is on every message.</item>
/// <item><b>step</b>: one global batch, one optimizer step; steps are numbered from 0 over the whole run.</item>
/// <item><b>shard</b>: one of the batch's <c>--shards</c> fixed, contiguous slices of samples (<see cref="ShardPlan"/>); who computes a shard never changes its contents or its place in the sum.</item>
/// <item><b>block</b>: a run of consecutive shards whose sums are added first, the blocks then in order (<see cref="ReductionPlan"/>).</item>
/// <item><b>piece</b>: what one result carries: a single shard, or the first shards of a block computed in one pass and summed
/// (<see cref="ReductionPlan.Pieces"/>; on the wire a PieceAssignment out, a PieceResult back).</item>
/// <item><b>reduction order</b>: pieces added within each block in shard order, then the blocks in order, implemented once (<see cref="StepCollector"/>).</item>
/// <item><b>worker</b>: a node that computes pieces; <b>coordinator</b>: the node whose run engine (<see cref="RunEngine{TWorker}"/>) decides.</item>
/// <item><b>transport</b>: how tensors travel (Akka.Remote or the tensor data plane), apart from what is sent.</item>
/// </list>
/// </summary>
public static class Glossary;
