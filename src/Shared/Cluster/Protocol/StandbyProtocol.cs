namespace Distributed.Shared.Protocol;

/// <summary>What the active coordinator sends its standbys (<c>coordinator --standby</c>).</summary>
public static class StandbyProtocol
{
    /// <summary>
    /// Part <paramref name="Index"/> of <paramref name="Count"/> of the run's state at the start of
    /// step <paramref name="Step"/>, in the checkpoint file's layout (<see cref="Training.CheckpointFile.ToBytes"/>),
    /// from the coordinator of term <paramref name="Term"/>. Parts travel in order over one
    /// connection; a standby keeps the latest complete set and continues from it if the active
    /// coordinator goes. Cut into parts so that a snapshot never needs a larger frame than the
    /// step's tensors do. <paramref name="Wire"/> and <paramref name="Peers"/> are the run's exchange
    /// settings (they are not in a checkpoint), so that a standby continues the run as it was run.
    /// </summary>
    public sealed record SnapshotPart(string RunId, long Term, long Step, int Index, int Count, byte[] Bytes, TensorWire Wire = TensorWire.Float32, bool Peers = false) : IClusterMessage;

    /// <summary>The active coordinator's run ended (finished or stopped): its standbys stop too, saying why.</summary>
    public sealed record RunOver(string RunId, bool Finished, string Reason) : IClusterMessage;
}
