using static Distributed.Shared.Protocol.StandbyProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// Puts a standby's <see cref="SnapshotPart"/>s back together. Parts of one snapshot come in order
/// over one connection, but the sender can die between two of them (a coordinator killed while it
/// publishes): a set is complete only when every part of the same (run, term, step) has come, a
/// part of another snapshot starts over, and nothing of an incomplete set is ever handed on, so
/// the standby keeps the previous complete snapshot. Pure: no actor, no clock.
/// </summary>
public sealed class SnapshotAssembly
{
    /// <summary>More parts than this (2 GB at 512 KB each) is not a snapshot of any model a node can hold.</summary>
    public const int MaxParts = 4096;

    private SnapshotPart?[] _parts = [];

    /// <summary>Adds a part; returns the snapshot's bytes when it completes a set, else null.</summary>
    /// <exception cref="ArgumentException">The part claims more than <see cref="MaxParts"/> parts.</exception>
    public byte[]? Add(SnapshotPart part)
    {
        if (part.Count > MaxParts) throw new ArgumentException($"a snapshot of {part.Count:N0} parts is more than the {MaxParts:N0} any model needs");
        if (part.Index == 0 || _parts.Length != part.Count) _parts = new SnapshotPart?[part.Count];
        if (part.Index > 0 && !SameSnapshot(_parts[0], part)) return null;
        _parts[part.Index] = part;
        if (_parts.Any(p => p is null)) return null;
        var bytes = _parts.SelectMany(p => p!.Bytes).ToArray();
        _parts = [];
        return bytes;
    }

    private static bool SameSnapshot(SnapshotPart? first, SnapshotPart part) =>
        first is not null && first.RunId == part.RunId && first.Term == part.Term && first.Step == part.Step;
}
