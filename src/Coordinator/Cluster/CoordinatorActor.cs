using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Observation;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.PeerProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Engine = Distributed.Shared.Training.RunEngine<Akka.Actor.IActorRef>;
using Command = Distributed.Shared.Training.RunEngine<Akka.Actor.IActorRef>.RunCommand;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// The cluster's side of a run: turns worker messages, membership events and timers into events of
/// the pure <see cref="RunEngine{TWorker}"/>, which decides, and carries out its commands: welcomes
/// and refusals, pieces to compute with the current weights (what is sent; the transport decides
/// how), deadlines, and the end of the run. Holds no math and no policy; keeps only what the
/// display and metrics report (<see cref="RunLedger"/>), feeds the times of sends and results to
/// a <see cref="StepWatch"/> (which names stalls and stragglers) and a <see cref="StepTrace"/>
/// (trace.json), and builds messages through
/// <see cref="StepMessages"/>. Its settings and local messages are in CoordinatorActorProtocol.cs.
/// Behaviours: Running → Done.
/// </summary>
public sealed partial class CoordinatorActor : ReceiveActor, IWithTimers
{
    private readonly TrainingRun _run;
    private readonly Settings _settings;
    private readonly Engine _engine;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    /// <summary>Each worker's latest registration: its name, threads and the challenge its Welcome must sign.</summary>
    private readonly Dictionary<IActorRef, RegisterWorker> _registrations = [];
    private readonly StepMessages _messages;
    private readonly RunLedger _ledger;
    private readonly StandbyReplication _standbys;
    private readonly StepWatch _watch = new();
    private readonly StepTrace _trace = new();
    private readonly long _clockStart = Stopwatch.GetTimestamp();
    private bool _completedOne;

    public CoordinatorActor(TrainingRun run, Settings settings)
    {
        _run = run;
        _settings = settings;
        _engine = new Engine(run, new RunRules(settings.MinWorkers, settings.MaxBadResults, settings.StepTimeout, settings.WorkerTimeout, settings.Peers, settings.CheckpointEvery));
        _messages = new StepMessages(run, settings.RunId, settings.Wire, settings.Identity, _cluster.SelfAddress.ToString(), settings.Peers, settings.Term);
        _standbys = new StandbyReplication(settings.RunId, settings.Term, settings.Wire, settings.Peers, _cluster.SelfAddress);
        _ledger = new RunLedger(_cluster.SelfAddress.ToString());
        Running();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TrainingRun run, Settings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(run, settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember));
        _settings.Log($"coordinator: run {_settings.RunId}, waiting for {_settings.MinWorkers} worker(s) at {_cluster.SelfAddress} (up to {_settings.WorkerTimeout.TotalSeconds:F0} s)");
        Execute(_engine.Start());
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>
    /// Any exception escaping a handler (a checkpoint write on a full disk, say) fails the run with
    /// its message. Akka's default would restart an empty coordinator that then waits for workers it
    /// no longer knows and times out blaming them. The run keeps its last checkpoint: --resume continues.
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        Execute(_engine.HostFailed($"the coordinator failed while handling {message?.GetType().Name ?? "a message"}: {reason.GetType().Name}: {reason.Message}; " +
            "continue with --resume from the last checkpoint"));
        base.PreRestart(reason, message);
    }

    /// <summary>The failed run is over: the fresh instance Akka made stops at once instead of starting a new, empty run.</summary>
    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    private void Running()
    {
        Receive<RegisterWorker>(r =>
        {
            _registrations[Sender] = r;
            Execute(_engine.Admit(Sender, NodeOf(Sender), r.Name));
        });
        Receive<PieceResult>(Collect);
        Receive<SliceSent>(Reduced);
        Receive<ReplicaState>(s =>
        {
            if (s.RunId == _settings.RunId) Execute(_engine.StateArrived(Sender, s.Version, s.Weights.Inline, s.Optimizer));
            s.Weights.Release();
        });
        Receive<NeedState>(n => Execute(_engine.StateRequested(Sender, n.Step)));
        Receive<WorkerFailed>(f => Execute(_engine.Lose(Sender, $"cannot take part: {f.Reason}")));
        Receive<StallCheck>(c =>
        {
            if (_watch.Stalled(c.Step, Now) is not { } line) return;
            _settings.Log(line);
            Shared.Diagnostics.TrainingMetrics.Stalled();
        });
        Receive<Deadline>(d => Execute(d.Timer switch
        {
            RunTimer.Step => StepDeadline(d.Step),
            RunTimer.NoWorkers => _engine.NoWorkersDeadlinePassed(),
            _ => _engine.AbandonDeadlinePassed(),
        }));
        Receive<StopRequested>(s => Execute(_engine.StopRequested(s.Reason)));
        Receive<Terminated>(t => Execute(_engine.Lose(t.ActorRef, "stopped")));
        Membership();
        ReceiveAny(Unhandled);
    }

    private void Done()
    {
        Receive<PieceResult>(r => Collect(r));
        Receive<ReplicaState>(s => s.Weights.Release());
        Receive<RegisterWorker>(r => Execute(_engine.Admit(Sender, NodeOf(Sender), r.Name)));
        ReceiveAny(_ => { });
    }

    private void Membership()
    {
        Receive<ClusterEvent.MemberUp>(up =>
        {
            Member(up.Member.Address, "up", $"member up {up.Member.Address} [{string.Join(",", up.Member.Roles)}]");
            bool first = _standbys.Count == 0;
            _standbys.MemberUp(up.Member, Context);
            // The first standby gets the state as it stands, if the model holds it (else at the next due step).
            if (first && _standbys.Count > 0 && _run.Unapplied == 0) _standbys.Publish(_run, Context);
        });
        Receive<ClusterEvent.UnreachableMember>(u =>
        {
            Member(u.Member.Address, "unreachable", $"member unreachable {u.Member.Address}");
            // Act at once: waiting for the member's removal would cost seconds more.
            foreach (var worker in _engine.Live.Where(w => w.Path.Address == u.Member.Address).ToList()) Execute(_engine.Lose(worker, "is unreachable", mayReturn: true));
            if (u.Member.HasRole(Roles.Worker)) Timers.StartSingleTimer(("down", u.Member.Address), new DownIfUnreachable(u.Member.Address), DownUnreachableAfter);
        });
        Receive<DownIfUnreachable>(d =>
        {
            if (!_cluster.State.Unreachable.Any(m => m.Address == d.Node)) return;
            _settings.Log($"coordinator: {d.Node} still unreachable after {DownUnreachableAfter.TotalSeconds:F1} s; downing it so that the link's other end, this coordinator, is not downed with it");
            _cluster.Down(d.Node);
        });
        Receive<ClusterEvent.ReachableMember>(r =>
        {
            Timers.Cancel(("down", r.Member.Address));
            Member(r.Member.Address, "up", $"member reachable again {r.Member.Address}");
            foreach (var worker in _engine.Away.Where(w => w.Path.Address == r.Member.Address).ToList()) Execute(_engine.Returned(worker));
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            _standbys.MemberRemoved(m.Member.Address);
            Member(m.Member.Address, "removed", $"member removed {m.Member.Address}");
        });
    }

    private void Member(Address address, string status, string line)
    {
        _ledger.MemberIs(address, status);
        _settings.Log($"coordinator: {line}");
        PublishMembers();
    }

    private TimeSpan Now => Stopwatch.GetElapsedTime(_clockStart);

    private string NameOf(IActorRef worker) => _registrations.TryGetValue(worker, out var r) ? r.Name : worker.Path.Name;

    /// <summary>The step's deadline passed: say what it still waits for before the engine hands those shards out again.</summary>
    private IReadOnlyList<Command> StepDeadline(long step)
    {
        if (step == _run.Step) _settings.Log($"coordinator: step {step} reached its deadline ({_settings.StepTimeout.TotalSeconds:F1} s); waiting for {_watch.WaitingFor(step, Now)}");
        return _engine.StepDeadlinePassed(step);
    }

    private void Collect(PieceResult r)
    {
        long started = Stopwatch.GetTimestamp();
        if (r.RunId == _settings.RunId)
        {
            var now = Now;
            _watch.Arrived(NameOf(Sender), r.Step, r.Shard, r.ShardCount, r.ComputeMilliseconds, now);
            _trace.Arrived(NameOf(Sender), r.Step, r.Shard, r.ShardCount, r.ComputeMilliseconds, now);
        }
        var (_, commands) = _engine.Offer(Sender, new OfferedPiece(r.RunId == _settings.RunId, r.Step, r.Shard, r.ShardCount, r.Samples, r.LossSum, r.Correct,
            r.GradientSum.Inline, r.ComputeMilliseconds, r.GradientSum.Release, r.Attempt));
        // The reduce and optimizer time of a completing step (validation and the last add included).
        if (commands.Any(c => c is Command.StepCompleted)) _ledger.Reduced(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Execute(commands);
    }

    /// <summary>A slice owner's word that it sent its reduced sum (peer exchange); the last one completes the step.</summary>
    private void Reduced(SliceSent r)
    {
        if (r.RunId != _settings.RunId) return;
        long started = Stopwatch.GetTimestamp();
        var (_, commands) = _engine.SliceSent(Sender, r.Step, r.Attempt, r.Slice);
        if (commands.Any(c => c is Command.StepCompleted)) _ledger.Reduced(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Execute(commands);
    }

    /// <summary>An actor's path as peers resolve it (with this node's address for an actor local to it).</summary>
    private string PathOf(IActorRef actor) => actor.Path.ToSerializationFormatWithAddress(_cluster.SelfAddress);

    /// <summary>Carries out the engine's commands in order.</summary>
    private void Execute(IReadOnlyList<Command> commands)
    {
        foreach (var command in commands)
        {
            switch (command)
            {
                case Command.Log l: _settings.Log(l.Line); break;
                case Command.Welcome w: w.Worker.Tell(_messages.Welcome(w.Joining ? _settings.Transport.Offer(w.Worker, Self) : null, _registrations.GetValueOrDefault(w.Worker))); break;
                case Command.Refuse f: f.Worker.Tell(new Rejected(f.Reason)); break;
                case Command.Watch w:
                    _ledger.Watched(w.Worker, w.Name, _registrations.TryGetValue(w.Worker, out var r) ? r.Threads : 1);
                    Context.Watch(w.Worker);
                    break;
                case Command.Release gone:
                    Context.Unwatch(gone.Worker);
                    _settings.Transport.Forget(gone.Worker);
                    break;
                case Command.TrainingStarted: _ledger.TrainingStarted(); break;
                case Command.StepStarted s:
                    _ledger.StepStarted();
                    _messages.StepStarted();
                    _watch.StepStarted(s.Step, Now);
                    _trace.StepStarted(s.Step, Now);
                    Timers.StartSingleTimer(nameof(StallCheck), new StallCheck(s.Step), _watch.StallAfter);
                    break;
                case Command.Compute c:
                    _ledger.Sent(c.Worker, c.Pieces.Sum(p => p.Count));
                    _watch.Sent(NameOf(c.Worker), c.Step, c.Pieces.SelectMany(p => Enumerable.Range(p.First, p.Count)), Now);
                    _trace.Sent(NameOf(c.Worker), c.Step, Now);
                    _settings.Transport.Send(c.Worker, c.Round is { } round
                        ? _messages.Compute(c.Step, c.Pieces, round.Attempt, round.Owners.Select(PathOf).ToArray(), round.WithState, round.Applied, round.Early)
                        : _messages.Compute(c.Step, c.Pieces), Self);
                    break;
                case Command.FetchState f: f.Worker.Tell(new SendState(_settings.RunId, f.Step, f.Attempt, f.Rate)); break;
                case Command.Credit c: _ledger.Credited(c); break;
                case Command.Disturbed: _ledger.Disturbed(); break;
                case Command.Arm a: Timers.StartSingleTimer(a.Timer, new Deadline(a.Timer, a.Step), a.After); break;
                case Command.Cancel c: Timers.Cancel(c.Timer); break;
                case Command.CancelAll: Timers.CancelAll(); break;
                case Command.StepCompleted s: Completed(s); break;
                case Command.Ended e: End(e); break;
            }
        }
    }

    /// <summary>A worker's node: its ActorSystem's address; for an actor in the coordinator's own ActorSystem (specs' probes), the actor itself.</summary>
    private string NodeOf(IActorRef worker) => worker.Path.Address.Equals(Self.Path.Address) ? worker.Path.ToString() : worker.Path.Address.ToString();

    private void Completed(Command.StepCompleted step)
    {
        // After a takeover, the first completed step is when the run is going again (the failover figure).
        if (_settings.Term > 1 && !_completedOne) _settings.Log($"coordinator: step {step.Step} completed, the first as term {_settings.Term}");
        _completedOne = true;
        _trace.StepCompleted(step.Step, Now);
        int named = _watch.Reported.Count;
        foreach (var line in _watch.Completed(step.Step, Now)) _settings.Log(line);
        for (int i = named; i < _watch.Reported.Count; i++) Shared.Diagnostics.TrainingMetrics.StragglerNamed();
        if (_ledger.Completed(step.Step, step.Epoch) is { } recovered) _settings.Log(recovered);
        if (step.Epoch is { } epoch) _settings.Log(TrainingRun.Describe(epoch, _run.Options.Epochs));
        _settings.OnStep?.Invoke(_run, step.Epoch);
        if (_standbys.Due(_run, step.Epoch is not null, _settings.CheckpointEvery)) _standbys.Publish(_run, Context);
        PublishMembers();
    }

    private void PublishMembers()
    {
        Shared.Diagnostics.TrainingMetrics.MembersUp(1 + _engine.Live.Count);
        _settings.OnMembers?.Invoke(_ledger.Members(_engine, NodeOf, _watch.IsStraggler));
    }

    /// <summary>The run is over: live workers are told why (their data connections closed first), and the caller gets the outcome.</summary>
    private void End(Command.Ended e)
    {
        Become(Done);
        var result = e.How == RunEnding.Finished ? _run.Result() : null;
        Shared.Protocol.IClusterMessage end = result is not null ? new RunFinished(_settings.RunId, result.FinalWeightsSha256)
            : new RunStopped(_settings.RunId, e.How == RunEnding.Interrupted ? $"{e.Reason} at step {_run.Step}" : $"the run failed at step {_run.Step}");
        foreach (var w in _engine.Live)
        {
            _settings.Transport.Forget(w);
            w.Tell(end);
        }
        _standbys.Over(result is not null, end is RunStopped stopped ? stopped.Reason : "finished", Context);
        if (result is not null)
            _settings.Done.TrySetResult(new ClusterRunOutcome(result, _run.Model, _ledger.Summaries(_engine), _ledger.Breakdown(_run), _ledger.WorkerEpochs, _watch.Reported, _trace.ToJson()));
        else
            _settings.Done.TrySetException(e.How == RunEnding.Interrupted ? new ClusterRunInterruptedException(e.Reason!, _run.Step)
                : e.Error ?? new ClusterRunFailedException(e.Reason!, _run.Step));
    }
}
