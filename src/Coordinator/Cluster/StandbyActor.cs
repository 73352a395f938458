using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.StandbyProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// A standby coordinator: keeps the latest snapshot the active coordinator sent it, and takes the
/// run over when that coordinator becomes unreachable or leaves without ending the run, if no
/// older coordinator-role member is still reachable to do it (election by membership age, the
/// same order Akka's keep-oldest resolver and cluster singletons use, but acted on at
/// unreachability rather than after removal, which costs seconds more), and if at least one
/// worker is still reachable from here (else this node is the one cut off). The coordinator it starts
/// has the next term, so workers leave the old one for it and a stale coordinator's Welcomes are
/// refused; the old coordinator is downed so that the split-brain resolver keeps this side.
/// With <c>--elect</c> a standby that comes up as the oldest coordinator-role member leads the run
/// itself (the first of a StatefulSet's coordinators; a restarted one joins as the younger).
/// Behaviours: Standing → Active, or → Over.
/// </summary>
public sealed partial class StandbyActor : ReceiveActor, IWithTimers
{
    /// <summary>
    /// How long a loss settles before the decision: nodes cut off together are reported within one
    /// heartbeat interval (500 ms) and reaper tick (250 ms) of each other, so by then a standby that
    /// is itself the one cut off sees the workers gone too.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(750);

    private readonly Settings _settings;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly SnapshotAssembly _parts = new();
    private Snapshot? _latest;
    private readonly Stopwatch _sinceLost = new();

    public StandbyActor(Settings settings)
    {
        _settings = settings;
        Standing();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Settings settings) => Akka.Actor.Props.Create(() => new StandbyActor(settings));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberUp));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Standing()
    {
        Receive<SnapshotPart>(FromCoordinatorMember, Take);
        Receive<RunOver>(o => _latest is null || o.RunId == _latest.RunId, o =>
        {
            _settings.Log($"standby: the active coordinator {(o.Finished ? "finished" : "stopped")} run {o.RunId} ({o.Reason}); nothing to take over");
            Become(Over);
            _settings.Ended(o);
        });
        Receive<ClusterEvent.UnreachableMember>(u => Lost(u.Member.Address, "became unreachable"));
        Receive<ClusterEvent.MemberRemoved>(m => Lost(m.Member.Address, "left the cluster"));
        // A worker seen again while the active coordinator is still gone: decide again.
        Receive<ClusterEvent.ReachableMember>(r => r.Member.HasRole(Roles.Worker) && _latest is { } s && Gone(s.From),
            _ => Self.Tell(new Decide(_latest!.From, "is unreachable")));
        Receive<Decide>(Decided);
        Receive<ClusterEvent.MemberUp>(up => up.Member.Address == _cluster.SelfAddress && _settings.Lead is not null && _latest is null, _ => Elect());
        ReceiveAny(_ => { });
    }

    /// <summary>Not a member any more, or unreachable from some member.</summary>
    private bool Gone(Address address) =>
        Unreachable().Contains(address) || _cluster.State.Members.All(m => m.Address != address);

    private HashSet<Address> Unreachable() => _cluster.State.Unreachable.Select(m => m.Address).ToHashSet();

    private void Over() => ReceiveAny(_ => { });

    private void Active() => ReceiveAny(_ => { });

    /// <summary>Only a coordinator-role member may feed a standby (untrusted mode already limits who reaches it).</summary>
    private bool FromCoordinatorMember(SnapshotPart _) =>
        _cluster.State.Members.Any(m => m.Address == Sender.Path.Address && m.HasRole(Roles.Coordinator) && m.Address != _cluster.SelfAddress);

    private void Take(SnapshotPart part)
    {
        byte[]? bytes;
        try
        {
            bytes = _parts.Add(part);
        }
        catch (ArgumentException e)
        {
            _settings.Log($"standby: refused a snapshot part from {Sender.Path.Address}: {e.Message}");
            return;
        }
        if (bytes is null) return;
        Checkpoint state;
        try
        {
            state = CheckpointFile.Parse(bytes, $"snapshot of step {part.Step} from {Sender.Path.Address}");
        }
        catch (DataFormatException e)
        {
            _settings.Log($"standby: refused a snapshot: {e.Message}");
            return;
        }
        bool firstOfRun = _latest is null || _latest.RunId != part.RunId;
        if (!firstOfRun) _settings.Log($"standby: holds run {part.RunId} at step {part.Step}");
        _latest = new Snapshot(part.RunId, part.Term, state, part.Wire, part.Peers, Sender.Path.Address);
        if (firstOfRun)
        {
            _settings.Log($"standby: following run {part.RunId} of {Sender.Path.Address} (term {part.Term}); first snapshot at step {part.Step}");
            try
            {
                _settings.Prepare(state);
            }
            catch (Exception e) when (e is DataFormatException or IOException)
            {
                _settings.Log($"standby: cannot load the data run {part.RunId} trains on: {e.Message}");
            }
        }
    }

    /// <summary>
    /// <c>--elect</c>, this node just up: the oldest coordinator-role member runs the run, so lead
    /// unless an older one is here (it is active, or will be; its snapshots will come).
    /// </summary>
    private void Elect()
    {
        var self = _cluster.SelfMember;
        var older = _cluster.State.Members.FirstOrDefault(m => m.HasRole(Roles.Coordinator) && m.Address != self.Address
            && m.Status is MemberStatus.Up or MemberStatus.Leaving && m.IsOlderThan(self));
        if (older is not null)
        {
            _settings.Log($"standby: {older.Address} is the older coordinator; standing by for its run");
            return;
        }
        _settings.Log("coordinator: the oldest coordinator-role member of the cluster; leading the run as term 1");
        string? problem = _settings.Lead!();
        if (problem is not null)
        {
            _settings.Log($"coordinator: cannot lead the run: {problem}");
            Become(Over);
            return;
        }
        Become(Active);
    }

    /// <summary>A member is gone: if it was the active coordinator, decide once the loss has settled.</summary>
    private void Lost(Address address, string how)
    {
        if (_latest is not { } snapshot || address != snapshot.From) return;
        if (!_sinceLost.IsRunning) _sinceLost.Start();
        Timers.StartSingleTimer("decide", new Decide(address, how), SettleTime);
    }

    /// <summary>If the active coordinator is still gone and this standby is the oldest reachable coordinator, with a worker in reach, take over.</summary>
    private void Decided(Decide decide)
    {
        var (address, how) = (decide.Coordinator, decide.How);
        if (_latest is not { } snapshot || address != snapshot.From) return;
        if (!Gone(address))
        {
            _settings.Log($"standby: the active coordinator {address} is reachable again; still a standby");
            _sinceLost.Reset();
            return;
        }
        var self = _cluster.SelfMember;
        var unreachable = Unreachable();
        var older = _cluster.State.Members.FirstOrDefault(m => m.HasRole(Roles.Coordinator) && m.Address != address && m.Address != self.Address
            && m.Status == MemberStatus.Up && !unreachable.Contains(m.Address) && m.IsOlderThan(self));
        if (older is not null)
        {
            _settings.Log($"standby: the active coordinator {address} {how}; {older.Address} is older and takes over");
            return;
        }
        // Cut off from every worker as well, this node is more likely the one cut off: the active
        // coordinator's side downs it. A worker seen again brings the question back (ReachableMember).
        // (Joining and WeaklyUp count: a fast run can be well under way before its workers are Up.)
        if (!_cluster.State.Members.Any(m => m.HasRole(Roles.Worker) && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up
                && !unreachable.Contains(m.Address)))
        {
            _settings.Log($"standby: the active coordinator {address} {how}, but no worker is reachable from here either; not taking over");
            return;
        }
        _settings.Log($"standby: the active coordinator {address} {how}; taking over run {snapshot.RunId} at step {snapshot.State.Step} as term {snapshot.Term + 1}");
        // Down it now: the split-brain resolver (keep-oldest by coordinator role) would otherwise, with
        // two coordinators, keep the unreachable oldest's side and down this one with every worker.
        // A coordinator that was only cut off hears it was downed and stops (fenced out of the cluster).
        if (_cluster.State.Members.Any(m => m.Address == address)) _cluster.Down(address);
        string? problem = _settings.TakeOver(snapshot);
        if (problem is not null)
        {
            _settings.Log($"standby: cannot take over: {problem}");
            return;
        }
        _settings.Log($"standby: coordinator of term {snapshot.Term + 1} started {_sinceLost.ElapsedMilliseconds} ms after the loss was seen");
        Become(Active);
    }
}
