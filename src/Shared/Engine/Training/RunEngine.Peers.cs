namespace Distributed.Shared.Training;

/// <summary>
/// The peer exchange's step cycle (<see cref="RunRules.Peers"/>). Each attempt of a step has a
/// table: the workers taking part, worker k owning slice k of the parameters. Workers send their
/// pieces' slices to the owners and a report (loss, accuracy, no gradient) here; owners send their
/// reduced slices to every replica and here, where the run steps on the assembled sum. A worker lost
/// (or silent past the deadline, or sending a bad result) mid-step costs the attempt: the step starts
/// again with the others, from the weights every replica still holds, since replicas apply a step only
/// once told which attempt completed. Who joins takes part from the next step on, with the run's state.
/// </summary>
public sealed partial class RunEngine<TWorker>
{
    /// <summary>Attempt numbers grow over the whole run, so (step, attempt) never names two tables.</summary>
    private int _attempt = -1, _attempts = -1;
    private TWorker[] _table = [];
    private ReducedGradient? _reduced;
    /// <summary>Workers whose replica holds the run's current weights (without being sent them).</summary>
    private readonly HashSet<TWorker> _synced = [];
    private (long Step, int Attempt, float Rate)? _applied;
    /// <summary>Set while several workers are dropped at once, so that the step starts again once, not once per worker.</summary>
    private bool _holdAttempts;
    /// <summary>Work for the next step already handed out (its attempt and table), and what came back for it early.</summary>
    private (long Step, int Attempt, TWorker[] Table)? _early;
    private readonly List<Action> _earlyResults = [];
    /// <summary>Workers that asked for the state for the step whose work went out early: answered once it begins.</summary>
    private readonly HashSet<TWorker> _stateWanted = [];

    /// <summary>The current attempt's owners, slice order.</summary>
    public IReadOnlyList<TWorker> Table => _table;

    public int Attempt => _attempt;

    /// <summary>A reduced slice from its owner; the verdict says what became of it.</summary>
    public (SliceVerdict Verdict, IReadOnlyList<RunCommand> Commands) OfferSlice(TWorker owner, long step, int attempt, int slice, float[] values, Action? release = null)
    {
        var verdict = SliceVerdict.Stale;
        var commands = Emit(() =>
        {
            verdict = TakeSlice(owner, step, attempt, slice, values);
            release?.Invoke();
        });
        return (verdict, commands);
    }

    /// <summary>The worker's replica cannot reach the current step's weights by itself: its work is sent again, with the run's state.</summary>
    public IReadOnlyList<RunCommand> StateRequested(TWorker worker, long step) => Emit(() =>
    {
        if (_rules.Peers && _early is { } early && step == early.Step && early.Table.Contains(worker))
        {
            _stateWanted.Add(worker);
            return;
        }
        if (!_rules.Peers || Phase != RunPhase.Training || step != _run.Step || !_table.Contains(worker)) return;
        SendState(worker);
    });

    /// <summary>The worker's work for the current step again, with the run's state.</summary>
    private void SendState(TWorker worker)
    {
        _synced.Remove(worker);
        Log($"coordinator: worker {NameOf(worker)} missed a step's reduced gradient; sending it the run's state");
        SendRound(worker, _dispatch.OwnedBy(worker, Enumerable.Range(0, _run.Options.Shards)));
    }

    private SliceVerdict TakeSlice(TWorker owner, long step, int attempt, int slice, float[] values)
    {
        if (_early is { } early && step == early.Step && attempt == early.Attempt)
        {
            var copy = values.ToArray();
            _earlyResults.Add(() => TakeSlice(owner, step, attempt, slice, copy));
            return SliceVerdict.Accepted;
        }
        if (_reduced is not { } reduced || Phase != RunPhase.Training || step != _run.Step || attempt != _attempt) return SliceVerdict.Stale;
        if (slice < 0 || slice >= _table.Length || !_table[slice].Equals(owner))
        {
            Log($"coordinator: dropped reduced slice {slice} of step {step} from {NameOf(owner)}: it does not own that slice");
            return SliceVerdict.Malformed;
        }
        var verdict = reduced.Offer(step, attempt, slice, values);
        if (verdict is SliceVerdict.Malformed or SliceVerdict.NotFinite)
        {
            Log($"coordinator: dropped reduced slice {slice} of step {step} from {NameOf(owner)}: {verdict}");
            Strike(owner, $"a {verdict} reduced slice");
            return verdict;
        }
        if (verdict == SliceVerdict.Accepted && _collector is { IsComplete: true } collector && reduced.IsComplete) CompleteStep(collector);
        return verdict;
    }

    private void StartPeerStep()
    {
        _reduced ??= new ReducedGradient(_run.Model.ParameterCount);
        if (_early is { } early && early.Step == _run.Step && early.Table.All(_dispatch.Live.Contains)) AdoptEarly(early);
        else
        {
            DropEarly();
            StartAttempt([]);
        }
    }

    /// <summary>
    /// Every piece of the step was reported and only reduced slices are still travelling: the next
    /// step's work goes out now, to the same table, so that no worker waits for the coordinator's
    /// round trip (a replica applies the step as soon as its slices are in). Not across an epoch's
    /// end (the first step of an epoch carries the weights' hash), nor when stopping.
    /// </summary>
    private void SendEarly(StepCollector collector)
    {
        if (_early is not null || _stopReason is not null || Phase != RunPhase.Training || _run.Batch + 1 >= _run.BatchesPerEpoch || _table.Length == 0) return;
        // A worker that joined (or came back) takes part from the next step handed out the usual way.
        if (_dispatch.Live.Count != _table.Length || !_table.All(_dispatch.Live.Contains)) return;
        var early = (_run.Step + 1, ++_attempts, _table);
        _early = early;
        var sizes = Enumerable.Range(0, _run.Options.Shards).Select(s => _run.NextShardSamples(s).Length).ToArray();
        var shards = Enumerable.Range(0, _run.Options.Shards).Where(s => sizes[s] > 0).ToArray();
        var plan = new ShardDispatcher<TWorker>();
        foreach (var w in _table) plan.Add(w);
        var assigned = plan.Assign(shards, among: _table);
        // The applied attempt is this one; its learning rate is the run's next.
        var applied = (collector.Step, _attempt, _run.LearningRate);
        foreach (var worker in _table)
        {
            var mine = assigned.FirstOrDefault(p => p.Worker.Equals(worker)).Shards ?? [];
            var pieces = _piecesFit ? _plan.Pieces(mine) : mine.Select(s => (First: s, Count: 1)).ToList();
            _out.Add(new RunCommand.Compute(worker, _run.Step + 1, pieces, new RunCommand.PeerRound(early.Item2, _table, WithState: false, applied, Early: true)));
        }
    }

    /// <summary>The step whose work went out early begins: the same table and shards, nothing sent again; what came back early is taken in.</summary>
    private void AdoptEarly((long Step, int Attempt, TWorker[] Table) early)
    {
        _early = null;
        _attempt = early.Attempt;
        _table = early.Table;
        _collector!.Begin(_run.Step, ExpectedSamples());
        _dispatch.NewStep();
        _reduced!.Begin(_run.Step, _attempt, new SliceLayout(_run.Model.ParameterCount, _table.Length));
        _dispatch.Assign(_collector.Missing.ToArray(), among: _table);
        _out.Add(new RunCommand.Arm(RunTimer.Step, _run.Step, _rules.StepTimeout));
        foreach (var worker in _stateWanted.Where(_table.Contains).ToList()) SendState(worker);
        _stateWanted.Clear();
        var results = _earlyResults.ToList();
        _earlyResults.Clear();
        foreach (var take in results) take();
    }

    private void DropEarly()
    {
        _early = null;
        _earlyResults.Clear();
        _stateWanted.Clear();
    }

    /// <summary>
    /// A new attempt of the current step: the table is every live worker but <paramref name="benched"/>
    /// (all of them, if that leaves none); every shard is handed out again and every owner is told.
    /// </summary>
    private void StartAttempt(IReadOnlyCollection<TWorker> benched)
    {
        // Work handed out early for the next step was for a table that no longer holds.
        DropEarly();
        _attempt = ++_attempts;
        var table = _dispatch.Live.Where(w => !benched.Contains(w)).ToArray();
        _table = table.Length > 0 ? table : [.. _dispatch.Live];
        _collector!.Begin(_run.Step, ExpectedSamples());
        _dispatch.NewStep();
        if (_table.Length == 0) return;
        _reduced!.Begin(_run.Step, _attempt, new SliceLayout(_run.Model.ParameterCount, _table.Length));
        var plan = _dispatch.Assign(_collector.Missing.ToArray(), among: _table);
        foreach (var worker in _table) SendRound(worker, plan.FirstOrDefault(p => p.Worker.Equals(worker)).Shards ?? []);
        _out.Add(new RunCommand.Arm(RunTimer.Step, _run.Step, _rules.StepTimeout));
    }

    private void SendRound(TWorker worker, int[] shards)
    {
        var pieces = _piecesFit ? _plan.Pieces(shards) : shards.Select(s => (First: s, Count: 1)).ToList();
        _out.Add(new RunCommand.Compute(worker, _run.Step, pieces, new RunCommand.PeerRound(_attempt, _table, !_synced.Contains(worker), _applied)));
    }

    /// <summary>The peer step is complete when every piece was reported and every slice reduced.</summary>
    private bool StepReady(StepCollector collector) => collector.IsComplete && (!_rules.Peers || _reduced is { IsComplete: true });

    /// <summary>Writes the step's mean gradient into the run's model, from the collector or the reduced slices.</summary>
    private void WriteMean(StepCollector collector)
    {
        if (!_rules.Peers)
        {
            collector.WriteMeanTo(_run.Model);
            return;
        }
        GradientAccumulator.WriteMean(_reduced!.Sum, collector.Samples, _run.Model);
        // Replicas in this attempt apply it when the next step's work says so; the others get the state.
        _applied = (collector.Step, _attempt, _run.LearningRate);
        _synced.Clear();
        _synced.UnionWith(_table);
    }

    /// <summary>A worker of the table is gone or benched: the attempt is lost; the step starts again without it.</summary>
    private void AttemptLost(TWorker worker, string why)
    {
        if (_holdAttempts || Phase != RunPhase.Training || _collector is null || StepReady(_collector) || !_table.Contains(worker)) return;
        _out.Add(new RunCommand.Disturbed());
        Log($"coordinator: step {_run.Step} attempt {_attempt} lost {NameOf(worker)} ({why}); starting it again with {Math.Max(0, _dispatch.Live.Count(w => !w.Equals(worker)))} worker(s)");
        StartAttempt([worker]);
    }

    /// <summary>
    /// The deadline passed: table members that still owe pieces or a reduced slice are silent; each
    /// gets a strike, and the step starts again without them (they take part again from the next step).
    /// </summary>
    private void PeerOverdue()
    {
        var collector = _collector!;
        var silent = _table.Where(w => _dispatch.OwnedBy(w, collector.Missing).Length > 0
            || _reduced!.Missing.Any(k => _table[k].Equals(w))).Distinct().ToList();
        _holdAttempts = true;
        foreach (var worker in silent)
        {
            var member = _members[worker];
            Log($"coordinator: worker {member.Name} silent for {_rules.StepTimeout.TotalSeconds:F1} s on step {_run.Step} attempt {_attempt}");
            if (++member.SilentDeadlines >= _rules.MaxBadResults && _dispatch.Live.Count > 1) Exclude(worker, $"{member.SilentDeadlines} step deadlines in a row without an answer");
        }
        _holdAttempts = false;
        if (silent.Count == 0 || Phase != RunPhase.Training) return;
        _out.Add(new RunCommand.Disturbed());
        StartAttempt(silent);
    }

    private void Strike(TWorker worker, string what)
    {
        if (!_members.TryGetValue(worker, out var member)) return;
        _out.Add(new RunCommand.Disturbed());
        if (++member.BadResults >= _rules.MaxBadResults && _dispatch.Live.Contains(worker)) Exclude(worker, $"{member.BadResults} bad results");
        else AttemptLost(worker, what);
    }
}
