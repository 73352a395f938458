using Distributed.Shared.Layers;

namespace Distributed.Shared.Protocol;

/// <summary>Messages workers receive from the coordinator.</summary>
public static class WorkerProtocol
{
    /// <summary>
    /// The model to build, as data: its input width and layers in order (weights are sent with each
    /// step), and the run's <paramref name="Seed"/>, which keys dropout masks (<see cref="ForwardContext"/>).
    /// </summary>
    public sealed record ModelSpec(int Inputs, LayerSpec[] Layers, int Seed = 0)
    {
        /// <summary>The MLP preset: (Dense → ReLU)* → Dense.</summary>
        public ModelSpec(int inputs, int[] hidden, int classes) : this(ModelDescription.Mlp(inputs, hidden, classes)) { }

        public ModelSpec(ModelDescription model, int seed = 0) : this(model.Inputs, [.. model.Layers], seed) { }

        public ModelDescription Description => new(Inputs, Layers);
    }

    /// <summary>What the worker's copy of the training data must be: its first TrainSamples images, with this <see cref="Data.ImageSet.Fingerprint"/>.</summary>
    public sealed record DataSpec(int TrainSamples, string Fingerprint);

    /// <summary>
    /// Registration accepted: the run the worker now belongs to (StepsPerEpoch lets it log per epoch),
    /// where its tensors travel when the coordinator offers a data plane, and in which number format
    /// the worker writes its gradients. With TLS, <paramref name="Proof"/> shows the sender holds a coordinator certificate.
    /// </summary>
    /// <param name="Optimizer">With the peer exchange, the optimizer the worker's replica steps with.</param>
    /// <param name="Term">The coordinator's term: 1 for the first, one more for each standby that took the run over. A worker follows a Welcome of a higher term, never of a lower one (stale coordinators are fenced off).</param>
    public sealed record Welcome(string RunId, ModelSpec Model, DataSpec Data, int StepsPerEpoch = 0, DataPlaneTicket? DataPlane = null,
        TensorWire Wire = TensorWire.Float32, CoordinatorProof? Proof = null, ReplicaOptimizer? Optimizer = null, long Term = 1) : IClusterMessage;

    /// <summary>The run's optimizer and its settings, for a replica to build the same one (<see cref="Training.OptimizerNames"/>).</summary>
    public sealed record ReplicaOptimizer(string Name, float Momentum, float WeightDecay);

    /// <summary>
    /// The coordinator's certificate (DER, base64) and its signature (base64) over the Welcome's
    /// claim: the worker's challenge, the coordinator's address, the run and the data-plane ticket.
    /// </summary>
    public sealed record CoordinatorProof(string Certificate, string Signature);

    /// <summary>Registration refused, with the reason (for the worker's log).</summary>
    public sealed record Rejected(string Reason) : IClusterMessage;

    /// <summary>
    /// Shard s of the step: the sample indices (into the training set) it covers. With
    /// <paramref name="Segments"/>, a piece: shards s, s+1, … whose samples start at those offsets
    /// (the last entry is the end), to be computed in one pass and answered with their summed gradient.
    /// </summary>
    public sealed record PieceAssignment(int Shard, int[] Samples, int[]? Segments = null)
    {
        /// <summary>Shards this assignment covers.</summary>
        public int Count => Segments is null ? 1 : Segments.Length - 1;
    }

    /// <summary>
    /// Compute these shards of step <paramref name="Step"/> from weights version <paramref name="WeightsVersion"/>;
    /// <paramref name="Weights"/> is present unless the coordinator knows the worker already holds that version.
    /// </summary>
    /// <param name="Peers">With the peer exchange: the attempt, its slice owners, and the step to apply first.</param>
    public sealed record ComputePieces(string RunId, long Step, long WeightsVersion, TensorEnvelope? Weights, PieceAssignment[] Shards,
        PeerWork? Peers = null) : IClusterMessage;

    /// <summary>
    /// One attempt of a step under the peer exchange. <paramref name="Owners"/>[k] (actor paths)
    /// reduces slice k of <see cref="Training.SliceLayout"/>(parameters, Owners.Length);
    /// <paramref name="ShardSamples"/> and <paramref name="Blocks"/> give every shard's size and the
    /// reduction order. Before computing, the replica applies step <paramref name="AppliedStep"/>
    /// (−1: none) as completed by attempt <paramref name="AppliedAttempt"/> at rate
    /// <paramref name="AppliedRate"/>, unless <paramref name="Optimizer"/> is present: then the
    /// message's weights and this optimizer state replace the replica's. At the start of each epoch
    /// <paramref name="WeightsSha256"/> is the hash of the coordinator's weights: the replica checks its own against it.
    /// </summary>
    public sealed record PeerWork(int Attempt, string[] Owners, int[] ShardSamples, int Blocks, long AppliedStep, int AppliedAttempt, float AppliedRate,
        Optimizers.OptimizerState? Optimizer, string? WeightsSha256 = null);

    /// <summary>
    /// Peer exchange: step <paramref name="Step"/> completed with <paramref name="Attempt"/> at
    /// <paramref name="Rate"/>; apply it and send the replica's state back (<see cref="CoordinatorProtocol.ReplicaState"/>).
    /// The coordinator asks at epoch ends, checkpoints, before a stop and when a replica needs the state.
    /// </summary>
    public sealed record SendState(string RunId, long Step, int Attempt, float Rate) : IClusterMessage;

    /// <summary>The run is over; workers may leave.</summary>
    public sealed record RunFinished(string RunId, string FinalWeightsSha256) : IClusterMessage;

    /// <summary>The run stopped before its end (the coordinator was interrupted and checkpointed); workers leave.</summary>
    public sealed record RunStopped(string RunId, string Reason) : IClusterMessage;
}
