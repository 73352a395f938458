namespace Distributed.Shared.Protocol;

/// <summary>Messages workers exchange among themselves under the peer exchange (and the reduced slices the coordinator also gets).</summary>
public static class PeerProtocol
{
    /// <summary>
    /// Slice <paramref name="Slice"/> of a piece's gradient sum (shards First … First+Count−1, of
    /// <paramref name="Samples"/> samples), for the slice's owner to add in the run's order.
    /// </summary>
    public sealed record PieceSlice(string RunId, long Step, int Attempt, int First, int Count, int Samples, int Slice, TensorEnvelope Values) : IClusterMessage;

    /// <summary>Asks another worker of the run for a ticket to its data plane (sent over the cluster's link; the sender is the asker).</summary>
    public sealed record LinkRequest(string RunId) : IClusterMessage;

    /// <summary>The answer to <see cref="LinkRequest"/>: where to connect, and the one-time token.</summary>
    public sealed record LinkOffer(string RunId, DataPlaneTicket Ticket) : IClusterMessage;

    /// <summary>The step's gradient sum over slice <paramref name="Slice"/>, from its owner, for every replica.</summary>
    public sealed record ReducedSlice(string RunId, long Step, int Attempt, int Slice, TensorEnvelope Sum) : IClusterMessage;
}
