using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>The coordinator actor's settings and the messages only its own node sends it (workers' messages are in <see cref="CoordinatorProtocol"/>).</summary>
public sealed partial class CoordinatorActor
{
    /// <summary>How the coordinator is set up.</summary>
    /// <param name="StepTimeout">A worker silent this long within a step loses its shards to the others.</param>
    /// <param name="WorkerTimeout">How long to wait with no worker alive before giving up.</param>
    /// <param name="MaxBadResults">
    /// Bad results (non-finite, wrong size, unassigned), or step deadlines in a row passed still holding
    /// shards, after which a worker's node is excluded from the run.
    /// </param>
    /// <param name="OnStep">Called after every completed step (checkpointing hooks in here).</param>
    /// <param name="Identity">With TLS: signs each Welcome so that workers can check it comes from a coordinator certificate.</param>
    /// <param name="Peers">The peer exchange (--exchange peers): workers reduce-scatter gradients among themselves and keep full replicas.</param>
    /// <param name="CheckpointEvery">The checkpoint interval in steps (0: epoch ends only): under the peer exchange, the coordinator takes the replicas' state then; standbys get a snapshot then.</param>
    /// <param name="Term">1 for a run's first coordinator, one more for each standby that took it over: Welcomes carry it, and workers follow the highest.</param>
    public sealed record Settings(string RunId, int MinWorkers, Action<string> Log, ITensorTransport Transport,
        TaskCompletionSource<ClusterRunOutcome> Done, TimeSpan StepTimeout, TimeSpan WorkerTimeout, int MaxBadResults = 3,
        Action<TrainingRun, EpochMetrics?>? OnStep = null, Action<IReadOnlyList<Progress.MemberRow>>? OnMembers = null,
        TensorWire Wire = TensorWire.Float32, CoordinatorIdentity? Identity = null, bool Peers = false, int CheckpointEvery = 0, long Term = 1);

    /// <summary>A worker's node was unreachable this long ago: if it still is, the coordinator downs it (see <see cref="DownUnreachableAfter"/>).</summary>
    private sealed record DownIfUnreachable(Akka.Actor.Address Node);

    /// <summary>
    /// How long a worker's node may stay unreachable before the coordinator downs it. If only the
    /// link between the two broke, the split-brain resolver would down both ends (indirectly
    /// connected nodes) 4 s after unreachability settles (stable-after), the coordinator too;
    /// downing the worker first leaves the resolver nothing to decide. Shorter than that, longer
    /// than most blips that heal by themselves (the re-admission path; a healed link can stay gated
    /// for a few seconds): 1.8 s lost a healing worker in 1 of 8 trials.
    /// </summary>
    public static readonly TimeSpan DownUnreachableAfter = TimeSpan.FromSeconds(2.5);

    /// <summary>A deadline the engine armed, delivered back to it.</summary>
    private sealed record Deadline(RunTimer Timer, long Step);

    /// <summary>Step <paramref name="Step"/> has run as long as the watch allows a step (<see cref="Shared.Observation.StepWatch.StallAfter"/>): log what it waits for, if anything.</summary>
    private sealed record StallCheck(long Step);

    /// <summary>
    /// Stop the run cleanly (SIGINT/SIGTERM): the step under way is finished if it completes within a
    /// step timeout, else abandoned; then workers are told and the run ends with a <see cref="ClusterRunInterruptedException"/>.
    /// Sent locally by <see cref="CoordinatorNode.Stop"/>.
    /// </summary>
    public sealed record StopRequested(string Reason);
}
