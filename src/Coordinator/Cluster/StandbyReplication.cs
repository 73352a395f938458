using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.StandbyProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// Keeps the active coordinator's standbys (the other coordinator-role members, each running a
/// <see cref="StandbyActor"/>) supplied with the run's state: a snapshot at the points a checkpoint
/// is taken (every --checkpoint-every steps and at epoch ends), cut into parts of
/// <see cref="PartBytes"/>, and the latest one again to a standby that comes up later. A standby
/// that takes over redoes the steps since its snapshot, which give the same bits, so the
/// interval costs recovery time, not exactness. Nothing is captured while there is no standby.
/// </summary>
public sealed class StandbyReplication(string runId, long term, TensorWire wire, bool peers, Address self)
{
    /// <summary>Bytes per part: well under the frame size that the step's tensors already need.</summary>
    public const int PartBytes = 512 * 1024;

    private readonly HashSet<Address> _standbys = [];
    private SnapshotPart[] _latest = [];

    public int Count => _standbys.Count;

    /// <summary>A member came up: a coordinator-role member other than this one is a standby, sent the latest snapshot at once.</summary>
    public void MemberUp(Member member, IActorContext context)
    {
        if (!member.HasRole(Roles.Coordinator) || member.Address == self || !_standbys.Add(member.Address)) return;
        foreach (var part in _latest) StandbyAt(member.Address, context).Tell(part);
    }

    public void MemberRemoved(Address address) => _standbys.Remove(address);

    /// <summary>Whether the completed step is one whose state goes to the standbys (the checkpoint rule), and the model holds it.</summary>
    public bool Due(TrainingRun run, bool epochEnded, int checkpointEvery) =>
        _standbys.Count > 0 && Training.Checkpointer.IsDue(run, epochEnded, checkpointEvery);

    /// <summary>Sends every standby the run's state as it stands (the start of step <see cref="TrainingRun.Step"/>).</summary>
    public void Publish(TrainingRun run, IActorContext context)
    {
        var bytes = CheckpointFile.ToBytes(run.Capture());
        int count = Math.Max(1, (bytes.Length + PartBytes - 1) / PartBytes);
        _latest = Enumerable.Range(0, count).Select(i => new SnapshotPart(runId, term, run.Step, i, count,
            bytes.AsSpan(i * PartBytes, Math.Min(PartBytes, bytes.Length - i * PartBytes)).ToArray(), wire, peers)).ToArray();
        foreach (var standby in _standbys)
            foreach (var part in _latest) StandbyAt(standby, context).Tell(part);
    }

    /// <summary>The run ended here: the standbys end too instead of taking it over.</summary>
    public void Over(bool finished, string reason, IActorContext context)
    {
        foreach (var standby in _standbys) StandbyAt(standby, context).Tell(new RunOver(runId, finished, reason));
    }

    private static ActorSelection StandbyAt(Address address, IActorContext context) =>
        context.ActorSelection(new RootActorPath(address) / "user" / ActorNames.Standby);
}
