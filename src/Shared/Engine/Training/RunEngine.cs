namespace Distributed.Shared.Training;

/// <summary>
/// The coordinator's decisions, with no Akka, no I/O and no clock: events go in (a worker
/// registers or is lost, a piece result arrives, a deadline passes, a stop is requested) and
/// commands come out (welcome or refuse, compute these pieces, arm a deadline, the step completed,
/// the run ended). It owns the run, who computes which shard (<see cref="ShardDispatcher{TWorker}"/>),
/// the step's <see cref="StepCollector"/> (the one reduction order) and each worker's strikes. An
/// actor routes messages, membership and timers into it and carries out what it says; specs drive
/// it directly. <typeparamref name="TWorker"/> is however the host names a worker (an actor ref).
/// </summary>
public sealed partial class RunEngine<TWorker> where TWorker : notnull
{
    private readonly TrainingRun _run;
    private readonly RunRules _rules;
    private readonly ReductionPlan _plan;
    private readonly bool _piecesFit;
    private readonly ShardDispatcher<TWorker> _dispatch = new();
    private readonly Dictionary<TWorker, Member> _members = [];
    private readonly HashSet<string> _excluded = [];
    /// <summary>Workers lost while they may come back (unreachable, not stopped): re-admitted when they do.</summary>
    private readonly HashSet<TWorker> _away = [];
    private readonly List<RunCommand> _out = [];
    private StepCollector? _collector;
    private ShardTrainer? _verifier;
    private string? _stopReason;

    /// <summary>What the engine knows of a worker: its name, its node (exclusion is by node) and its strikes.</summary>
    private sealed class Member(string name, string node)
    {
        public string Name { get; } = name;
        public string Node { get; } = node;
        public int BadResults { get; set; }
        public int SilentDeadlines { get; set; }
    }

    public RunEngine(TrainingRun run, RunRules rules)
    {
        _run = run;
        _rules = rules;
        _plan = run.Options.Reduction();
        // A piece is computed in one segmented pass, which needs shards of at most Gemm.KC samples.
        _piecesFit = (run.Options.BatchSize + run.Options.Shards - 1) / run.Options.Shards <= Numerics.Gemm.KC;
    }

    public RunPhase Phase { get; private set; } = RunPhase.WaitingForWorkers;

    public IReadOnlyList<TWorker> Live => _dispatch.Live;

    public bool IsExcluded(string node) => _excluded.Contains(node);

    public int BadResults(TWorker worker) => _members.TryGetValue(worker, out var m) ? m.BadResults : 0;

    /// <summary>The run begins: wait for workers, at most <see cref="RunRules.WorkerTimeout"/>.</summary>
    public IReadOnlyList<RunCommand> Start() => Emit(() => _out.Add(new RunCommand.Arm(RunTimer.NoWorkers, 0, _rules.WorkerTimeout)));

    /// <summary>A worker offers itself from <paramref name="node"/>.</summary>
    public IReadOnlyList<RunCommand> Admit(TWorker worker, string node, string name) => Emit(() =>
    {
        _away.Remove(worker);
        AdmitMember(worker, node, name);
    });

    private void AdmitMember(TWorker worker, string node, string name)
    {
        if (Phase == RunPhase.Done)
        {
            _out.Add(new RunCommand.Refuse(worker, "the run is over"));
            return;
        }
        if (_excluded.Contains(node))
        {
            _out.Add(new RunCommand.Refuse(worker, $"node {node} is excluded from this run (repeated bad results or missed deadlines)"));
            return;
        }
        // A worker already taking part keeps its data connection; a new one gets a ticket for one.
        _out.Add(new RunCommand.Welcome(worker, Joining: !_dispatch.Live.Contains(worker)));
        if (!_dispatch.Add(worker)) return;
        _members.TryAdd(worker, new Member(name, node));
        _out.Add(new RunCommand.Watch(worker, name));
        Log($"coordinator: worker {name} registered from {node} ({_dispatch.Live.Count} now)");
        if (_dispatch.Live.Count == _run.Options.Shards + 1)
            Log($"coordinator: warning: {_dispatch.Live.Count} workers for {_run.Options.Shards} shards per step: workers beyond {_run.Options.Shards} sit idle (more --shards would use them)");
        if (Phase == RunPhase.WaitingForWorkers)
        {
            if (_dispatch.Live.Count < _rules.MinWorkers) return;
            _out.Add(new RunCommand.Cancel(RunTimer.NoWorkers));
            Log($"coordinator: {_dispatch.Live.Count} worker(s) registered; training from epoch {_run.Epoch} step {_run.Step}: " +
                $"{_run.Options.Epochs} epoch(s) of {_run.BatchesPerEpoch} steps, {_run.Options.Shards} shards per step");
            Phase = RunPhase.Training;
            _run.Start();
            _out.Add(new RunCommand.TrainingStarted());
            StartStep();
            return;
        }
        _out.Add(new RunCommand.Cancel(RunTimer.NoWorkers));
        // Shards orphaned while no worker was alive go to the newcomer; others start with the next step.
        if (_rules.Peers)
        {
            if (_collector is { } c && !StepReady(c) && !_table.Any(_dispatch.Live.Contains)) StartAttempt([]);
        }
        else if (_collector is { IsComplete: false }) Compute(_dispatch.Assign(_dispatch.Unowned(_collector.Missing)));
    }

    /// <summary>A worker is gone (stopped, unreachable, failed): its missing shards go to the others now.</summary>
    /// <param name="mayReturn">It was cut off, not stopped (unreachable): <see cref="Returned"/> re-admits it.</param>
    public IReadOnlyList<RunCommand> Lose(TWorker worker, string why, bool mayReturn = false) => Emit(() =>
    {
        if (mayReturn && _dispatch.Live.Contains(worker)) _away.Add(worker);
        Remove(worker, why);
    });

    /// <summary>Workers lost while unreachable that have not come back.</summary>
    public IReadOnlyCollection<TWorker> Away => _away;

    /// <summary>
    /// A worker lost as unreachable is reachable again (a network blip): it is welcomed back at once
    /// (with a new data-plane ticket) rather than left idle until it registers again by itself.
    /// </summary>
    public IReadOnlyList<RunCommand> Returned(TWorker worker) => Emit(() =>
    {
        if (!_away.Remove(worker) || Phase == RunPhase.Done || !_members.TryGetValue(worker, out var member) || _excluded.Contains(member.Node)) return;
        Log($"coordinator: worker {member.Name} at {member.Node} is reachable again; re-admitted");
        AdmitMember(worker, member.Node, member.Name);
    });

    /// <summary>A piece result from <paramref name="worker"/>; the verdict says what became of it.</summary>
    public (ShardVerdict Verdict, IReadOnlyList<RunCommand> Commands) Offer(TWorker worker, OfferedPiece result)
    {
        var verdict = ShardVerdict.WrongStep;
        var commands = Emit(() => verdict = Collect(worker, result));
        return (verdict, commands);
    }

    /// <summary>The deadline of <paramref name="step"/> passed.</summary>
    public IReadOnlyList<RunCommand> StepDeadlinePassed(long step) => Emit(() =>
    {
        if (Phase == RunPhase.Training && step == _run.Step) Overdue();
    });

    /// <summary>No worker (or too few to start) for <see cref="RunRules.WorkerTimeout"/>.</summary>
    public IReadOnlyList<RunCommand> NoWorkersDeadlinePassed() => Emit(() =>
    {
        if (Phase == RunPhase.WaitingForWorkers)
            Fail($"only {_dispatch.Live.Count} of the {_rules.MinWorkers} worker(s) needed registered within {_rules.WorkerTimeout.TotalSeconds:F0} s");
        else if (Phase == RunPhase.Training)
            Fail($"no worker for {_rules.WorkerTimeout.TotalSeconds:F0} s at step {_run.Step}");
    });

    /// <summary>
    /// Stop the run cleanly (SIGINT/SIGTERM): the step under way is finished if it completes within
    /// a step timeout, else abandoned (<see cref="AbandonDeadlinePassed"/>); then workers are told.
    /// </summary>
    public IReadOnlyList<RunCommand> StopRequested(string reason) => Emit(() =>
    {
        if (Phase == RunPhase.WaitingForWorkers) Interrupt(reason, "before training started");
        if (Phase != RunPhase.Training || _stopReason is not null) return;
        _stopReason = reason;
        Log($"coordinator: {reason}: finishing step {_run.Step} (abandoning it after {_rules.StepTimeout.TotalSeconds:F1} s)");
        _out.Add(new RunCommand.Arm(RunTimer.Abandon, _run.Step, _rules.StepTimeout));
    });

    public IReadOnlyList<RunCommand> AbandonDeadlinePassed() => Emit(() =>
    {
        if (Phase == RunPhase.Training && _stopReason is not null) Interrupt(_stopReason, $"step {_run.Step} abandoned");
    });

    /// <summary>The host failed (an exception escaped it): the run ends saying why.</summary>
    public IReadOnlyList<RunCommand> HostFailed(string reason) => Emit(() =>
    {
        if (Phase != RunPhase.Done) Fail(reason);
    });

    private IReadOnlyList<RunCommand> Emit(Action decide)
    {
        _out.Clear();
        decide();
        return _out.ToArray();
    }

    private void Log(string line) => _out.Add(new RunCommand.Log(line));

    private string NameOf(TWorker worker) => _members.TryGetValue(worker, out var m) ? m.Name : worker.ToString() ?? "?";
}
