namespace Distributed.Shared.Protocol;

/// <summary>Messages workers exchange among themselves under the peer exchange, and the word an owner sends the coordinator.</summary>
public static class PeerProtocol
{
    /// <summary>
    /// Chunk <paramref name="Chunk"/> of slice <paramref name="Slice"/> of a piece's gradient sum
    /// (shards First … First+Count−1, of <paramref name="Samples"/> samples), for the slice's owner
    /// to add in the run's order (<see cref="Training.SliceLayout.Chunk"/>).
    /// </summary>
    public sealed record PieceSlice(string RunId, long Step, int Attempt, int First, int Count, int Samples, int Slice, int Chunk, TensorEnvelope Values) : IClusterMessage;

    /// <summary>Asks another worker of the run for a ticket to its data plane (sent over the cluster's link; the sender is the asker).</summary>
    public sealed record LinkRequest(string RunId) : IClusterMessage;

    /// <summary>The answer to <see cref="LinkRequest"/>: where to connect, and the one-time token.</summary>
    public sealed record LinkOffer(string RunId, DataPlaneTicket Ticket) : IClusterMessage;

    /// <summary>The step's gradient sum over chunk <paramref name="Chunk"/> of slice <paramref name="Slice"/>, from its owner, for every replica.</summary>
    public sealed record ReducedSlice(string RunId, long Step, int Attempt, int Slice, int Chunk, TensorEnvelope Sum) : IClusterMessage;

    /// <summary>
    /// An owner's word to the coordinator: it reduced every chunk of slice <paramref name="Slice"/> of
    /// the attempt and sent them to every replica. The coordinator counts these instead of receiving the slices: it
    /// takes the replicas' state only when it needs the weights (<see cref="WorkerProtocol.SendState"/>).
    /// </summary>
    public sealed record SliceSent(string RunId, long Step, int Attempt, int Slice) : IClusterMessage;
}
