using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Engine = Distributed.Shared.Training.RunEngine<Akka.Actor.IActorRef>;
using Command = Distributed.Shared.Training.RunEngine<Akka.Actor.IActorRef>.RunCommand;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// The cluster's side of a run: turns worker messages, membership events and timers into events of
/// the pure <see cref="RunEngine{TWorker}"/>, which decides, and carries out its commands: welcomes
/// and refusals, pieces to compute with the current weights (what is sent; the transport decides
/// how), deadlines, and the end of the run. Holds no math and no policy; keeps only what the
/// display and metrics report. Behaviours: Running → Done.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    /// <summary>How the coordinator is set up.</summary>
    /// <param name="StepTimeout">A worker silent this long within a step loses its shards to the others.</param>
    /// <param name="WorkerTimeout">How long to wait with no worker alive before giving up.</param>
    /// <param name="MaxBadResults">
    /// Bad results (non-finite, wrong size, unassigned), or step deadlines in a row passed still holding
    /// shards, after which a worker's node is excluded from the run.
    /// </param>
    /// <param name="OnStep">Called after every completed step (checkpointing hooks in here).</param>
    /// <param name="Identity">With TLS: signs each Welcome so that workers can check it comes from a coordinator certificate.</param>
    public sealed record Settings(string RunId, int MinWorkers, Action<string> Log, ITensorTransport Transport,
        TaskCompletionSource<ClusterRunOutcome> Done, TimeSpan StepTimeout, TimeSpan WorkerTimeout, int MaxBadResults = 3,
        Action<TrainingRun, EpochMetrics?>? OnStep = null, Action<IReadOnlyList<Progress.MemberRow>>? OnMembers = null,
        TensorWire Wire = TensorWire.Float32, CoordinatorIdentity? Identity = null);

    /// <summary>A deadline the engine armed, delivered back to it.</summary>
    private sealed record Deadline(RunTimer Timer, long Step);

    /// <summary>
    /// Stop the run cleanly (SIGINT/SIGTERM): the step under way is finished if it completes within a
    /// step timeout, else abandoned; then workers are told and the run ends with a <see cref="ClusterRunInterruptedException"/>.
    /// Sent locally by <see cref="CoordinatorNode.Stop"/>.
    /// </summary>
    public sealed record StopRequested(string Reason);

    private readonly TrainingRun _run;
    private readonly Settings _settings;
    private readonly Engine _engine;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<IActorRef, WorkerStats> _stats = [];
    /// <summary>Each worker's latest registration: its name, threads and the challenge its Welcome must sign.</summary>
    private readonly Dictionary<IActorRef, RegisterWorker> _registrations = [];
    private readonly Dictionary<Address, string> _status = [];
    private readonly List<Reporting.WorkerEpoch> _workerEpochs = [];
    private readonly float[]?[] _weightBuffers = new float[]?[2];
    private TensorEnvelope? _weights;
    private double _reduceMilliseconds;
    private long? _disturbedAt;
    private (long Bytes, TimeSpan Serialize, TimeSpan Deserialize) _serializeAtStart;

    public CoordinatorActor(TrainingRun run, Settings settings)
    {
        _run = run;
        _settings = settings;
        _engine = new Engine(run, new RunRules(settings.MinWorkers, settings.MaxBadResults, settings.StepTimeout, settings.WorkerTimeout));
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
        Receive<WorkerFailed>(f => Execute(_engine.Lose(Sender, $"cannot take part: {f.Reason}")));
        Receive<Deadline>(d => Execute(d.Timer switch
        {
            RunTimer.Step => _engine.StepDeadlinePassed(d.Step),
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
        Receive<RegisterWorker>(r => Execute(_engine.Admit(Sender, NodeOf(Sender), r.Name)));
        ReceiveAny(_ => { });
    }

    private void Membership()
    {
        Receive<ClusterEvent.MemberUp>(up =>
        {
            _status[up.Member.Address] = "up";
            _settings.Log($"coordinator: member up {up.Member.Address} [{string.Join(",", up.Member.Roles)}]");
            PublishMembers();
        });
        Receive<ClusterEvent.UnreachableMember>(u =>
        {
            _status[u.Member.Address] = "unreachable";
            _settings.Log($"coordinator: member unreachable {u.Member.Address}");
            // Act at once: waiting for the member's removal would cost seconds more.
            foreach (var worker in _engine.Live.Where(w => w.Path.Address == u.Member.Address).ToList()) Execute(_engine.Lose(worker, "is unreachable", mayReturn: true));
        });
        Receive<ClusterEvent.ReachableMember>(r =>
        {
            _status[r.Member.Address] = "up";
            _settings.Log($"coordinator: member reachable again {r.Member.Address}");
            foreach (var worker in _engine.Away.Where(w => w.Path.Address == r.Member.Address).ToList()) Execute(_engine.Returned(worker));
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            _status[m.Member.Address] = "removed";
            _settings.Log($"coordinator: member removed {m.Member.Address}");
            PublishMembers();
        });
    }

    private void Collect(PieceResult r)
    {
        long started = Stopwatch.GetTimestamp();
        var (_, commands) = _engine.Offer(Sender, new OfferedPiece(r.RunId == _settings.RunId, r.Step, r.Shard, r.ShardCount, r.Samples, r.LossSum, r.Correct,
            r.GradientSum.Inline, r.ComputeMilliseconds, r.GradientSum.Release));
        // The reduce and optimizer time of a completing step (validation and the last add included).
        if (commands.Any(c => c is Command.StepCompleted))
        {
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            _reduceMilliseconds += ms;
            Shared.Diagnostics.TrainingMetrics.Reduced(ms);
        }
        Execute(commands);
    }

    /// <summary>Carries out the engine's commands in order.</summary>
    private void Execute(IReadOnlyList<Command> commands)
    {
        foreach (var command in commands)
        {
            switch (command)
            {
                case Command.Log l: _settings.Log(l.Line); break;
                case Command.Welcome w: w.Worker.Tell(Welcome(w.Joining ? _settings.Transport.Offer(w.Worker, Self) : null, w.Worker)); break;
                case Command.Refuse f: f.Worker.Tell(new Rejected(f.Reason)); break;
                case Command.Watch w:
                    _stats.TryAdd(w.Worker, new WorkerStats(w.Name, w.Worker, _registrations.TryGetValue(w.Worker, out var r) ? r.Threads : 1));
                    Context.Watch(w.Worker);
                    break;
                case Command.Release gone:
                    Context.Unwatch(gone.Worker);
                    _settings.Transport.Forget(gone.Worker);
                    break;
                case Command.TrainingStarted: _serializeAtStart = ProtocolCodec.Totals; break;
                case Command.StepStarted: StartStep(); break;
                case Command.Compute c: Send(c); break;
                case Command.Credit c:
                    if (_stats.TryGetValue(c.Worker, out var stats))
                    {
                        stats.CountShards(c.Shards, c.ComputeMilliseconds, Stopwatch.GetTimestamp());
                        stats.SamplesThisEpoch += c.Samples;
                    }
                    break;
                case Command.Disturbed: _disturbedAt ??= Stopwatch.GetTimestamp(); break;
                case Command.Arm a: Timers.StartSingleTimer(a.Timer, new Deadline(a.Timer, a.Step), a.After); break;
                case Command.Cancel c: Timers.Cancel(c.Timer); break;
                case Command.CancelAll: Timers.CancelAll(); break;
                case Command.StepCompleted s: Completed(s); break;
                case Command.Ended e: End(e); break;
            }
        }
    }

    private Welcome Welcome(DataPlaneTicket? ticket, IActorRef worker)
    {
        var r = _registrations.GetValueOrDefault(worker);
        return new(_settings.RunId,
            new ModelSpec(_run.Description),
            new DataSpec(_run.Data.Train.Count, _run.Data.Train.Fingerprint(_run.Data.Train.Count)), _run.BatchesPerEpoch, ticket, _settings.Wire,
            _settings.Identity?.Prove(new WelcomeClaim(r?.Challenge ?? "", _cluster.SelfAddress.ToString(), _settings.RunId, r?.Name ?? "", ticket)));
    }

    private void StartStep()
    {
        foreach (var w in _stats.Values) w.OutstandingThisStep = 0;
        // Two buffers in turn: a step's weights stay intact while its messages may still be on their way out.
        var buffer = _weightBuffers[_run.Step % 2] ??= new float[_run.Model.ParameterCount];
        _run.Model.CopyValuesTo(buffer);
        _weights = new TensorEnvelope(buffer, Wire: _settings.Wire);
    }

    private void Send(Command.Compute c)
    {
        var stats = _stats[c.Worker];
        if (stats.OutstandingThisStep == 0)
        {
            stats.SentAt = Stopwatch.GetTimestamp();
            stats.ComputeThisStep = 0;
        }
        stats.OutstandingThisStep += c.Pieces.Sum(p => p.Count);
        _settings.Transport.Send(c.Worker, new ComputePieces(_settings.RunId, c.Step, c.Step, _weights, c.Pieces.Select(Assignment).ToArray()), Self);
    }

    /// <summary>A piece as the wire carries it: its samples, and for several shards where each one starts.</summary>
    private PieceAssignment Assignment((int First, int Count) p)
    {
        if (p.Count == 1) return new PieceAssignment(p.First, _run.ShardSamples(p.First));
        var parts = Enumerable.Range(p.First, p.Count).Select(_run.ShardSamples).ToArray();
        var segments = new int[p.Count + 1];
        for (int i = 0; i < p.Count; i++) segments[i + 1] = segments[i] + parts[i].Length;
        return new PieceAssignment(p.First, parts.SelectMany(x => x).ToArray(), segments);
    }

    /// <summary>A worker's node: its ActorSystem's address; for an actor in the coordinator's own ActorSystem (specs' probes), the actor itself.</summary>
    private string NodeOf(IActorRef worker) => worker.Path.Address.Equals(Self.Path.Address) ? worker.Path.ToString() : worker.Path.Address.ToString();

    private void Completed(Command.StepCompleted step)
    {
        if (_disturbedAt is { } since)
        {
            _settings.Log($"coordinator: step {step.Step} completed {Stopwatch.GetElapsedTime(since).TotalMilliseconds:F0} ms after losing a worker during it");
            _disturbedAt = null;
        }
        if (step.Epoch is { } epoch)
        {
            _settings.Log(TrainingRun.Describe(epoch, _run.Options.Epochs));
            foreach (var w in _stats.Values)
            {
                _workerEpochs.Add(new Reporting.WorkerEpoch(w.Name, epoch.Epoch, w.SamplesThisEpoch, epoch.TrainSeconds > 0 ? w.SamplesThisEpoch / epoch.TrainSeconds : 0));
                w.SamplesThisEpoch = 0;
            }
        }
        _settings.OnStep?.Invoke(_run, step.Epoch);
        PublishMembers();
    }

    /// <summary>The members as the progress display shows them: this node, then every worker that registered.</summary>
    private void PublishMembers()
    {
        Shared.Diagnostics.TrainingMetrics.MembersUp(1 + _engine.Live.Count);
        if (_settings.OnMembers is null) return;
        var rows = new List<Progress.MemberRow> { new("coordinator", _cluster.SelfAddress.ToString(), Roles.Coordinator, "up", 0, 0) };
        foreach (var w in _stats.Values)
        {
            string status = _engine.IsExcluded(NodeOf(w.Ref)) ? "excluded"
                : !_engine.Live.Contains(w.Ref) ? "gone"
                : _status.GetValueOrDefault(w.Ref.Path.Address, "up");
            rows.Add(new(w.Name, w.Address, Roles.Worker, status, w.ShardsDone, w.ShardsDone == 0 ? 0 : w.ComputeMilliseconds / w.ShardsDone));
        }
        _settings.OnMembers(rows);
    }

    /// <summary>The run is over: live workers are told (their data connections closed), and the caller gets the outcome.</summary>
    private void End(Command.Ended e)
    {
        Become(Done);
        switch (e.How)
        {
            case RunEnding.Finished:
                var result = _run.Result();
                TellWorkersTheEnd(new RunFinished(_settings.RunId, result.FinalWeightsSha256));
                _settings.Done.TrySetResult(new ClusterRunOutcome(result, _run.Model, _stats.Values.Select(w => w.Summary(_engine.BadResults(w.Ref))).ToArray(),
                    Breakdown(), _workerEpochs));
                break;
            case RunEnding.Interrupted:
                TellWorkersTheEnd(new RunStopped(_settings.RunId, $"{e.Reason} at step {_run.Step}"));
                _settings.Done.TrySetException(new ClusterRunInterruptedException(e.Reason!, _run.Step));
                break;
            default:
                TellWorkersTheEnd(new RunStopped(_settings.RunId, $"the run failed at step {_run.Step}"));
                _settings.Done.TrySetException(e.Error ?? new ClusterRunFailedException(e.Reason!, _run.Step));
                break;
        }
    }

    private StepBreakdown Breakdown()
    {
        var (bytes, serialize, deserialize) = ProtocolCodec.Totals;
        double steps = Math.Max(1, _run.StepsThisSession);
        return new StepBreakdown(
            StepMs: _run.Epochs.Sum(e => e.TrainSeconds) * 1000 / Math.Max(1, _run.Step),
            ReduceAndOptimizerMs: _reduceMilliseconds / steps,
            SerializeMs: (serialize - _serializeAtStart.Serialize).TotalMilliseconds / steps,
            DeserializeMs: (deserialize - _serializeAtStart.Deserialize).TotalMilliseconds / steps,
            BytesSerialized: (bytes - _serializeAtStart.Bytes) / steps);
    }

    /// <summary>The run is over for every live worker: its data connection is closed and it is told why (finished or stopped).</summary>
    private void TellWorkersTheEnd(Shared.Protocol.IClusterMessage end)
    {
        foreach (var w in _engine.Live)
        {
            _settings.Transport.Forget(w);
            w.Tell(end);
        }
    }
}
