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
    /// </summary>
    public sealed record PieceResult(string RunId, long Step, int Shard, int Samples, double LossSum, int Correct,
        TensorEnvelope GradientSum, double ComputeMilliseconds, int ShardCount = 1) : IClusterMessage;

    /// <summary>The worker cannot take part (e.g. its data differs from the coordinator's).</summary>
    public sealed record WorkerFailed(string RunId, string Reason) : IClusterMessage;
}
