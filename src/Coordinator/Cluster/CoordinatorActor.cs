using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// Drives a <see cref="TrainingRun"/> over the cluster: waits for enough workers, then each step
/// hands the batch's virtual shards to the live workers with the current weights, collects the
/// shard gradient sums in a <see cref="StepCollector"/> (which adds them in shard order), and steps
/// the run. Lost, unreachable, silent or misbehaving workers lose their shards to the others within
/// the step. Holds no math. Behaviours: WaitingForWorkers → Training → Done.
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

    private sealed record StepDeadline(long Step);

    /// <summary>
    /// Stop the run cleanly (SIGINT/SIGTERM): the step under way is finished if it completes within a
    /// step timeout, else abandoned; then workers are told and the run ends with a <see cref="ClusterRunInterruptedException"/>.
    /// Sent locally by <see cref="CoordinatorNode.Stop"/>.
    /// </summary>
    public sealed record StopRequested(string Reason);

    private sealed class AbandonStep
    {
        public static readonly AbandonStep Instance = new();
        private AbandonStep() { }
    }

    private sealed class NoWorkersDeadline
    {
        public static readonly NoWorkersDeadline Instance = new();
        private NoWorkersDeadline() { }
    }

    private readonly TrainingRun _run;
    private readonly Settings _settings;
    private readonly Dictionary<IActorRef, WorkerStats> _stats = [];
    private readonly ShardDispatcher<IActorRef> _dispatch = new();
    /// <summary>Excluded nodes (<see cref="NodeOf"/>): a worker re-registering under another actor name from the same node stays out.</summary>
    private readonly HashSet<string> _excluded = [];
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private StepCollector? _collector;
    private readonly ReductionPlan _plan;
    private readonly bool _piecesFit;
    private string? _stopReason;
    private ShardTrainer? _verifier;
    private TensorEnvelope? _weights;
    private readonly float[]?[] _weightBuffers = new float[]?[2];
    private double _reduceMilliseconds;
    private long? _disturbedAt;
    private readonly List<Reporting.WorkerEpoch> _workerEpochs = [];
    private readonly Dictionary<Address, string> _status = [];
    private (long Bytes, TimeSpan Serialize, TimeSpan Deserialize) _serializeAtStart;

    public CoordinatorActor(TrainingRun run, Settings settings)
    {
        _run = run;
        _settings = settings;
        _plan = run.Options.Reduction();
        // A piece is computed in one segmented pass, which needs shards of at most Gemm.KC samples.
        _piecesFit = (run.Options.BatchSize + run.Options.Shards - 1) / run.Options.Shards <= Shared.Numerics.Gemm.KC;
        WaitingForWorkers();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TrainingRun run, Settings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(run, settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember));
        _settings.Log($"coordinator: run {_settings.RunId}, waiting for {_settings.MinWorkers} worker(s) at {_cluster.SelfAddress} (up to {_settings.WorkerTimeout.TotalSeconds:F0} s)");
        Timers.StartSingleTimer(NoWorkersDeadline.Instance, NoWorkersDeadline.Instance, _settings.WorkerTimeout);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>
    /// Any exception escaping a handler (a checkpoint write on a full disk, say) fails the run with
    /// its message. Akka's default would restart an empty coordinator that then waits for workers it
    /// no longer knows and times out blaming them. The run keeps its last checkpoint: --resume continues.
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        Fail($"the coordinator failed while handling {message?.GetType().Name ?? "a message"}: {reason.GetType().Name}: {reason.Message}; " +
            "continue with --resume from the last checkpoint");
        base.PreRestart(reason, message);
    }

    /// <summary>The failed run is over: the fresh instance Akka made stops at once instead of starting a new, empty run.</summary>
    protected override void PostRestart(Exception reason) => Context.Stop(Self);

    private void WaitingForWorkers()
    {
        Receive<RegisterWorker>(r =>
        {
            Admit(r);
            if (_dispatch.Live.Count < _settings.MinWorkers) return;
            Timers.Cancel(NoWorkersDeadline.Instance);
            _settings.Log($"coordinator: {_dispatch.Live.Count} worker(s) registered; training from epoch {_run.Epoch} step {_run.Step}: " +
                $"{_run.Options.Epochs} epoch(s) of {_run.BatchesPerEpoch} steps, {_run.Options.Shards} shards per step");
            Become(Training);
            _run.Start();
            _serializeAtStart = ProtocolCodec.Totals;
            StartStep();
        });
        Receive<NoWorkersDeadline>(_ => Fail($"only {_dispatch.Live.Count} of the {_settings.MinWorkers} worker(s) needed registered within {_settings.WorkerTimeout.TotalSeconds:F0} s"));
        Receive<StopRequested>(s => Interrupt(s.Reason, "before training started"));
        Membership();
    }

    private void Training()
    {
        Receive<RegisterWorker>(Admit);
        Receive<ShardResult>(Collect);
        Receive<StepDeadline>(d => d.Step == _run.Step, _ => Overdue());
        Receive<StepDeadline>(_ => { });
        Receive<NoWorkersDeadline>(_ => Fail($"no worker for {_settings.WorkerTimeout.TotalSeconds:F0} s at step {_run.Step}"));
        Receive<WorkerFailed>(f => Lose(Sender, $"cannot take part: {f.Reason}"));
        Receive<StopRequested>(s =>
        {
            if (_stopReason is not null) return;
            _stopReason = s.Reason;
            _settings.Log($"coordinator: {s.Reason}: finishing step {_run.Step} (abandoning it after {_settings.StepTimeout.TotalSeconds:F1} s)");
            Timers.StartSingleTimer(AbandonStep.Instance, AbandonStep.Instance, _settings.StepTimeout);
        });
        Receive<AbandonStep>(_ => Interrupt(_stopReason!, $"step {_run.Step} abandoned"));
        Membership();
    }

    private void Done()
    {
        Receive<ShardResult>(r => _settings.Log($"coordinator: dropped result for step {r.Step} shard {r.Shard}: the run is over"));
        Receive<RegisterWorker>(_ => Sender.Tell(new Rejected("the run is over")));
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
            foreach (var worker in _dispatch.Live.Where(w => w.Path.Address == u.Member.Address).ToList()) Lose(worker, "is unreachable");
        });
        Receive<ClusterEvent.ReachableMember>(r =>
        {
            _status[r.Member.Address] = "up";
            _settings.Log($"coordinator: member reachable again {r.Member.Address}");
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            _status[m.Member.Address] = "removed";
            _settings.Log($"coordinator: member removed {m.Member.Address}");
            PublishMembers();
        });
        Receive<Terminated>(t => Lose(t.ActorRef, "stopped"));
        ReceiveAny(Unhandled);
    }

    private void Admit(RegisterWorker r)
    {
        if (_excluded.Contains(NodeOf(Sender)))
        {
            Sender.Tell(new Rejected($"node {Sender.Path.Address} is excluded from this run (repeated bad results or missed deadlines)"));
            return;
        }
        // A worker already taking part keeps its data connection; a new one gets a ticket for one.
        bool joining = !_dispatch.Live.Contains(Sender);
        Sender.Tell(Welcome(joining ? _settings.Transport.Offer(Sender, Self) : null, r));
        if (!_dispatch.Add(Sender)) return;
        _stats.TryAdd(Sender, new WorkerStats(r.Name, Sender, r.Threads));
        Context.Watch(Sender);
        Timers.Cancel(NoWorkersDeadline.Instance);
        _settings.Log($"coordinator: worker {r.Name} registered from {Sender.Path.Address} ({_dispatch.Live.Count} now)");
        if (_dispatch.Live.Count == _run.Options.Shards + 1)
            _settings.Log($"coordinator: warning: {_dispatch.Live.Count} workers for {_run.Options.Shards} shards per step: workers beyond {_run.Options.Shards} sit idle (more --shards would use them)");
        // Shards orphaned while no worker was alive go to the newcomer; others start with the next step.
        if (_collector is { IsComplete: false }) Send(_dispatch.Assign(_dispatch.Unowned(_collector.Missing)));
    }

    private Welcome Welcome(DataPlaneTicket? ticket, RegisterWorker r) => new(_settings.RunId,
        new ModelSpec(_run.Data.Train.PixelsPerImage, _run.Options.Hidden.ToArray(), _run.Data.Train.Classes),
        new DataSpec(_run.Data.Train.Count, _run.Data.Train.Fingerprint(_run.Data.Train.Count)), _run.BatchesPerEpoch, ticket, _settings.Wire,
        _settings.Identity?.Prove(new WelcomeClaim(r.Challenge, _cluster.SelfAddress.ToString(), _settings.RunId, r.Name, ticket)));

    /// <summary>A worker is gone (stopped, unreachable, failed or excluded): its missing shards go to the others now.</summary>
    private void Lose(IActorRef worker, string why)
    {
        if (!_dispatch.Live.Contains(worker)) return;
        Context.Unwatch(worker);
        _settings.Transport.Forget(worker);
        var orphans = _dispatch.Remove(worker, _collector?.Missing ?? []);
        if (_collector is { IsComplete: false }) _disturbedAt ??= Stopwatch.GetTimestamp();
        string name = _stats.TryGetValue(worker, out var s) ? s.Name : worker.Path.ToString();
        _settings.Log($"coordinator: worker {name} at {worker.Path.Address} {why}; {_dispatch.Live.Count} left" +
            (orphans.Length > 0 ? $"; shards {string.Join(",", orphans)} of step {_run.Step} reassigned" : ""));
        if (_dispatch.Live.Count == 0)
        {
            _settings.Log($"coordinator: no workers left; waiting up to {_settings.WorkerTimeout.TotalSeconds:F0} s for one to join");
            Timers.StartSingleTimer(NoWorkersDeadline.Instance, NoWorkersDeadline.Instance, _settings.WorkerTimeout);
            return;
        }
        Send(_dispatch.Assign(orphans));
    }

    private void StartStep()
    {
        _collector = new StepCollector(_run.Step, Enumerable.Range(0, _run.Options.Shards).Select(s => _run.ShardSamples(s).Length).ToArray(),
            _run.Model.ParameterCount, _plan);
        _dispatch.NewStep();
        foreach (var w in _stats.Values) w.OutstandingThisStep = 0;
        // Two buffers in turn: a step's weights stay intact while its messages may still be on their way out.
        var buffer = _weightBuffers[_run.Step % 2] ??= new float[_run.Model.ParameterCount];
        _run.Model.CopyValuesTo(buffer);
        _weights = new TensorEnvelope(buffer, Wire: _settings.Wire);
        Send(_dispatch.Assign(_collector.Missing.ToArray()));
        Timers.StartSingleTimer("step", new StepDeadline(_run.Step), _settings.StepTimeout);
    }

    private void Send(IReadOnlyList<(IActorRef Worker, int[] Shards)> plan)
    {
        long now = Stopwatch.GetTimestamp();
        foreach (var (worker, shards) in plan)
        {
            var stats = _stats[worker];
            if (stats.OutstandingThisStep == 0)
            {
                stats.SentAt = now;
                stats.ComputeThisStep = 0;
            }
            stats.OutstandingThisStep += shards.Length;
            _settings.Transport.Send(worker, new ComputeShards(_settings.RunId, _run.Step, _run.Step, _weights, Assignments(shards)), Self);
        }
    }

    /// <summary>A worker's shards as pieces: a run of shards that starts a reduction block travels (and comes back) as one.</summary>
    private ShardAssignment[] Assignments(int[] shards)
    {
        var pieces = _piecesFit ? _plan.Pieces(shards) : shards.Select(s => (First: s, Count: 1)).ToList();
        return pieces.Select(p =>
        {
            if (p.Count == 1) return new ShardAssignment(p.First, _run.ShardSamples(p.First));
            var parts = Enumerable.Range(p.First, p.Count).Select(_run.ShardSamples).ToArray();
            var segments = new int[p.Count + 1];
            for (int i = 0; i < p.Count; i++) segments[i + 1] = segments[i] + parts[i].Length;
            return new ShardAssignment(p.First, parts.SelectMany(x => x).ToArray(), segments);
        }).ToArray();
    }

    /// <summary>
    /// The step deadline passed: shards still missing go (also) to other workers; a worker that let
    /// <see cref="Settings.MaxBadResults"/> deadlines in a row pass holding shards is excluded, so a
    /// worker that takes shards and never answers costs a few deadlines, not one per step forever.
    /// </summary>
    private void Overdue()
    {
        var collector = _collector!;
        foreach (var worker in _dispatch.Live.ToList())
        {
            var late = _dispatch.OwnedBy(worker, collector.Missing);
            if (late.Length == 0) continue;
            var stats = _stats[worker];
            if (++stats.SilentDeadlines >= _settings.MaxBadResults && _dispatch.Live.Count > 1)
            {
                Exclude(worker, $"{stats.SilentDeadlines} step deadlines in a row without an answer");
                continue;
            }
            _settings.Log($"coordinator: worker {stats.Name} silent for {_settings.StepTimeout.TotalSeconds:F1} s on shards {string.Join(",", late)} of step {_run.Step}; giving them to others too");
            Send(_dispatch.Assign(late, avoid: worker));
        }
        Send(_dispatch.Assign(_dispatch.Unowned(collector.Missing)));
        Timers.StartSingleTimer("step", new StepDeadline(_run.Step), _settings.StepTimeout);
    }

    private void Collect(ShardResult r)
    {
        var collector = _collector!;
        ShardVerdict verdict;
        if (r.RunId != _settings.RunId) verdict = ShardVerdict.WrongRun;
        else if (!double.IsFinite(r.ComputeMilliseconds) || r.ComputeMilliseconds < 0) verdict = ShardVerdict.Malformed;
        else if (r.Step == collector.Step && r.Shard >= 0 && r.ShardCount >= 1 && r.Shard + r.ShardCount <= _run.Options.Shards &&
                 !Enumerable.Range(r.Shard, r.ShardCount).All(s => _dispatch.WasGiven(s, Sender))) verdict = ShardVerdict.NotAssigned;
        else verdict = collector.Offer(r.Step, r.Shard, r.ShardCount, r.Samples, r.LossSum, r.Correct, r.GradientSum.Inline, r.GradientSum.Release);
        if (verdict != ShardVerdict.Accepted)
        {
            r.GradientSum.Release();
            Reject(r, verdict);
            return;
        }
        if (_stats.TryGetValue(Sender, out var stats))
        {
            stats.SilentDeadlines = 0;
            stats.CountShards(r.ShardCount, r.ComputeMilliseconds, Stopwatch.GetTimestamp());
            stats.SamplesThisEpoch += r.Samples;
        }
        if (collector.IsComplete) CompleteStep(collector);
    }

    /// <summary>Logs a dropped result; a bad one (not merely late or repeated) also costs the worker a strike and the shard a new owner.</summary>
    private void Reject(ShardResult r, ShardVerdict verdict)
    {
        string from = _stats.TryGetValue(Sender, out var s) ? s.Name : Sender.Path.ToString();
        if (verdict == ShardVerdict.NotFinite && r.Step == _collector!.Step && Diverged(r))
        {
            var diverged = new TrainingDivergedException(_run, double.NaN);
            Fail(diverged.Message, diverged);
            return;
        }
        _settings.Log($"coordinator: dropped result step {r.Step} shard {r.Shard} from {from}: {verdict} (at step {_collector!.Step})");
        if (!verdict.IsBad() || s is null) return;
        _disturbedAt ??= Stopwatch.GetTimestamp();
        if (++s.BadResults >= _settings.MaxBadResults && _dispatch.Live.Contains(Sender))
        {
            Exclude(Sender, $"{s.BadResults} bad results");
            return;
        }
        // A broken result for its own shard: someone else computes that shard now.
        if (verdict is ShardVerdict.NotFinite or ShardVerdict.Malformed && r.Step == _collector.Step)
        {
            var redo = Enumerable.Range(r.Shard, Math.Clamp(r.ShardCount, 1, _run.Options.Shards))
                .Where(s => s < _run.Options.Shards && _dispatch.WasGiven(s, Sender) && !_collector.Has(s)).ToArray();
            if (redo.Length > 0) Send(_dispatch.Assign(redo, avoid: Sender));
        }
    }

    /// <summary>
    /// A non-finite result is either a broken worker or a diverging run (e.g. a learning rate far too
    /// high): the coordinator recomputes the shards itself from the same weights (the model holds them
    /// until the step completes) and blames the worker only if its own loss is finite.
    /// </summary>
    private bool Diverged(ShardResult r)
    {
        _verifier ??= new ShardTrainer(_run.Model);
        double loss = 0;
        for (int shard = r.Shard; shard < r.Shard + r.ShardCount && shard < _run.Options.Shards; shard++)
            loss += _verifier.Run(_run.Data.Train, _run.ShardSamples(shard)).LossSum;
        return !double.IsFinite(loss);
    }

    /// <summary>Takes a worker out of the run for good: its node is refused from now on, its shards go to the others.</summary>
    private void Exclude(IActorRef worker, string why)
    {
        _excluded.Add(NodeOf(worker));
        worker.Tell(new Rejected($"excluded from this run after {why}"));
        Lose(worker, $"excluded after {why}");
    }

    /// <summary>A worker's node: its ActorSystem's address; for an actor in the coordinator's own ActorSystem (specs' probes), the actor itself.</summary>
    private string NodeOf(IActorRef worker) => worker.Path.Address.Equals(Self.Path.Address) ? worker.Path.ToString() : worker.Path.Address.ToString();

    private void CompleteStep(StepCollector collector)
    {
        long reduceStart = Stopwatch.GetTimestamp();
        collector.WriteMeanTo(_run.Model);
        EpochMetrics? epoch;
        try
        {
            epoch = _run.CompleteStep(collector.LossSum, collector.Correct);
        }
        catch (TrainingDivergedException e)
        {
            Fail(e.Message, e);
            return;
        }
        double reduceMs = Stopwatch.GetElapsedTime(reduceStart).TotalMilliseconds;
        _reduceMilliseconds += reduceMs;
        Shared.Diagnostics.TrainingMetrics.Reduced(reduceMs);
        if (_disturbedAt is { } since)
        {
            _settings.Log($"coordinator: step {collector.Step} completed {Stopwatch.GetElapsedTime(since).TotalMilliseconds:F0} ms after losing a worker during it");
            _disturbedAt = null;
        }
        if (epoch is not null)
        {
            _settings.Log(TrainingRun.Describe(epoch, _run.Options.Epochs));
            foreach (var w in _stats.Values)
            {
                _workerEpochs.Add(new Reporting.WorkerEpoch(w.Name, epoch.Epoch, w.SamplesThisEpoch, epoch.TrainSeconds > 0 ? w.SamplesThisEpoch / epoch.TrainSeconds : 0));
                w.SamplesThisEpoch = 0;
            }
        }
        _settings.OnStep?.Invoke(_run, epoch);
        PublishMembers();
        if (_run.Finished) Finish();
        else if (_stopReason is not null) Interrupt(_stopReason, $"step {collector.Step} finished");
        else StartStep();
    }

    /// <summary>The members as the progress display shows them: this node, then every worker that registered.</summary>
    private void PublishMembers()
    {
        Shared.Diagnostics.TrainingMetrics.MembersUp(1 + _dispatch.Live.Count);
        if (_settings.OnMembers is null) return;
        var rows = new List<Progress.MemberRow> { new("coordinator", _cluster.SelfAddress.ToString(), Roles.Coordinator, "up", 0, 0) };
        foreach (var w in _stats.Values)
        {
            string status = _excluded.Contains(NodeOf(w.Ref)) ? "excluded"
                : !_dispatch.Live.Contains(w.Ref) ? "gone"
                : _status.GetValueOrDefault(w.Ref.Path.Address, "up");
            rows.Add(new(w.Name, w.Address, Roles.Worker, status, w.ShardsDone, w.ShardsDone == 0 ? 0 : w.ComputeMilliseconds / w.ShardsDone));
        }
        _settings.OnMembers(rows);
    }

    private void Finish()
    {
        Timers.CancelAll();
        var result = _run.Result();
        TellWorkersTheEnd(new RunFinished(_settings.RunId, result.FinalWeightsSha256));
        Become(Done);
        var (bytes, serialize, deserialize) = ProtocolCodec.Totals;
        double steps = Math.Max(1, _run.StepsThisSession);
        var breakdown = new StepBreakdown(
            StepMs: _run.Epochs.Sum(e => e.TrainSeconds) * 1000 / Math.Max(1, _run.Step),
            ReduceAndOptimizerMs: _reduceMilliseconds / steps,
            SerializeMs: (serialize - _serializeAtStart.Serialize).TotalMilliseconds / steps,
            DeserializeMs: (deserialize - _serializeAtStart.Deserialize).TotalMilliseconds / steps,
            BytesSerialized: (bytes - _serializeAtStart.Bytes) / steps);
        _settings.Done.TrySetResult(new ClusterRunOutcome(result, _run.Model, _stats.Values.Select(w => w.Summary()).ToArray(), breakdown, _workerEpochs));
    }

    /// <summary>The run is over for every live worker: its data connection is closed and it is told why (finished or stopped).</summary>
    private void TellWorkersTheEnd(Shared.Protocol.IClusterMessage end)
    {
        foreach (var w in _dispatch.Live)
        {
            _settings.Transport.Forget(w);
            w.Tell(end);
        }
    }

    /// <summary>Ends the run between steps: the run stays at a step boundary, ready to be checkpointed and resumed.</summary>
    private void Interrupt(string reason, string how)
    {
        Timers.CancelAll();
        TellWorkersTheEnd(new RunStopped(_settings.RunId, $"{reason} at step {_run.Step}"));
        _settings.Log($"coordinator: stopped ({reason}, {how}) at step {_run.Step}");
        Become(Done);
        _settings.Done.TrySetException(new ClusterRunInterruptedException(reason, _run.Step));
    }

    /// <param name="error">What the run's outcome fails with (default: a <see cref="ClusterRunFailedException"/> with the reason).</param>
    private void Fail(string reason, Exception? error = null)
    {
        Timers.CancelAll();
        _settings.Log($"coordinator: giving up: {reason}");
        TellWorkersTheEnd(new RunStopped(_settings.RunId, $"the run failed at step {_run.Step}"));
        Become(Done);
        _settings.Done.TrySetException(error ?? new ClusterRunFailedException(reason, _run.Step));
    }
}

/// <summary>A cluster run that could not finish; the message says why and at which step.</summary>
public sealed class ClusterRunFailedException(string reason, long step) : Exception($"the cluster run stopped at step {step}: {reason}.")
{
    public long Step { get; } = step;
}

/// <summary>A cluster run stopped on request (a signal) at a step boundary; its state can be checkpointed and resumed.</summary>
public sealed class ClusterRunInterruptedException(string reason, long step) : Exception($"the cluster run was stopped at step {step}: {reason}.")
{
    public long Step { get; } = step;
}

/// <summary>A cluster run's result with the per-worker figures.</summary>
public sealed record ClusterRunOutcome(TrainingResult Result, Shared.Layers.Sequential<float> Model, object[] Workers, StepBreakdown Breakdown,
    IReadOnlyList<Reporting.WorkerEpoch> WorkerEpochs)
{
    /// <summary>What metrics.json adds for a cluster run.</summary>
    public object Extra => new { Workers, StepBreakdown = Breakdown };
}

/// <summary>
/// Where a cluster step's time goes, per step on average. Serialization figures are process-wide:
/// in the single-machine simulation they cover every node; in a multi-process run only the
/// coordinator's side. Workers' compute is in the per-worker figures.
/// </summary>
public sealed record StepBreakdown(double StepMs, double ReduceAndOptimizerMs, double SerializeMs, double DeserializeMs, double BytesSerialized);
