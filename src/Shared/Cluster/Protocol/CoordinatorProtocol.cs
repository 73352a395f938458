namespace Distributed.Shared.Protocol;

/// <summary>Messages the coordinator receives from workers.</summary>
public static class CoordinatorProtocol
{
    /// <summary>
    /// A worker offers itself (the sender is the worker); answered with <see cref="WorkerProtocol.Welcome"/> or <see cref="WorkerProtocol.Rejected"/>.
    /// With TLS, the coordinator signs <paramref name="Challenge"/> into the Welcome to prove it holds a coordinator certificate.
    /// </summary>
    public sealed record RegisterWorker(string Name, int Threads, string Challenge = "") : IClusterMessage;

    /// <summary>
    /// One shard's outcome (or a piece's: shards Shard … Shard+ShardCount−1 summed): the gradient
    /// <b>sum</b> over its samples (flat, parameter order), the loss sum and correct count, and the
    /// worker's compute time.
    /// With the peer exchange the gradient went to the slice owners: <paramref name="GradientSum"/> is
    /// empty, and <paramref name="Attempt"/> names the attempt of the step it was computed for.
    /// </summary>
    public sealed record PieceResult(string RunId, long Step, int Shard, int Samples, double LossSum, int Correct,
        TensorEnvelope GradientSum, double ComputeMilliseconds, int ShardCount = 1, int Attempt = 0) : IClusterMessage;

    /// <summary>
    /// Peer exchange: this worker's replica cannot reach step <paramref name="Step"/>'s weights by
    /// itself (a reduced slice of the step before never came); it asks for the run's state.
    /// </summary>
    public sealed record NeedState(string RunId, long Step) : IClusterMessage;

    /// <summary>
    /// A replica's state at the start of step <paramref name="Version"/>, asked for with
    /// <see cref="WorkerProtocol.SendState"/>: weights and optimizer memory. <paramref name="Optimizer"/>
    /// is null (and the weights empty) when the replica cannot reach that step (it missed a slice).
    /// </summary>
    public sealed record ReplicaState(string RunId, long Version, TensorEnvelope Weights, Optimizers.OptimizerState? Optimizer) : IClusterMessage;

    /// <summary>The worker cannot take part (e.g. its data differs from the coordinator's).</summary>
    public sealed record WorkerFailed(string RunId, string Reason) : IClusterMessage;
}
