namespace Distributed.Shared.Training;

/// <summary>
/// The peer exchange's step cycle (<see cref="RunRules.Peers"/>). Each attempt of a step has a
/// table: the workers taking part, worker k owning slice k of the parameters. Workers send their
/// pieces' slices to the owners and a report (loss, accuracy, no gradient) here; owners send their
/// reduced slices to every replica and a word (<c>SliceSent</c>) here, not the slice: the
/// coordinator's link carries no tensor within an epoch. Its run moves on without its model
/// (<see cref="TrainingRun.CompleteStepElsewhere"/>) and takes a replica's state when it needs the
/// weights: at an epoch's end, a checkpoint, a stop, or for a replica that needs the state
/// (<see cref="RunCommand.FetchState"/>). If every replica holding the steps since is lost, the run
/// goes back to the state it holds and takes those steps again (same bits).
/// A worker lost (or silent past the deadline, or sending a bad result) mid-step costs the attempt:
/// the step starts again with the others, from the weights every replica still holds, since replicas
/// apply a step only once told which attempt completed. Who joins takes part from the next step on,
/// with the run's state.
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

    /// <summary>A state asked for with <see cref="RunCommand.FetchState"/>: who was asked, and the completed step it is for.</summary>
    private sealed class Fetch(long step, int attempt, float rate, double lossSum, int correct)
    {
        public long Step { get; } = step;
        public int Attempt { get; } = attempt;
        public float Rate { get; } = rate;
        public double LossSum { get; } = lossSum;
        public int Correct { get; } = correct;
        public HashSet<TWorker> Tried { get; } = [];
        public TWorker? Asked { get; set; }
    }

    private Fetch? _fetch;
    /// <summary>Workers whose report of the current step was not finite, while the model cannot check it (<see cref="DivergedElsewhere"/>).</summary>
    private readonly HashSet<TWorker> _nonFinite = [];
    private long _nonFiniteStep = -1;

    /// <summary>An owner says it reduced a slice and sent it to every replica; the verdict says what became of the word.</summary>
    public (SliceVerdict Verdict, IReadOnlyList<RunCommand> Commands) SliceSent(TWorker owner, long step, int attempt, int slice)
    {
        var verdict = SliceVerdict.Stale;
        var commands = Emit(() => verdict = TakeSliceSent(owner, step, attempt, slice));
        return (verdict, commands);
    }

    /// <summary>
    /// A replica's state, asked for with <see cref="RunCommand.FetchState"/>: the weights and optimizer
    /// memory at the start of <paramref name="version"/> (null optimizer: it cannot get there).
    /// </summary>
    public IReadOnlyList<RunCommand> StateArrived(TWorker worker, long version, float[] weights, Optimizers.OptimizerState? optimizer) => Emit(() =>
    {
        if (_fetch is not { } fetch || Phase != RunPhase.Training || !worker.Equals(fetch.Asked) || version != fetch.Step + 1) return;
        if (optimizer is null)
        {
            Log($"coordinator: worker {NameOf(worker)} cannot reach step {version}'s state; asking another replica");
            AskForState();
            return;
        }
        EpochMetrics? epoch;
        try
        {
            epoch = _run.CompleteStepAdopting(fetch.LossSum, fetch.Correct, weights, optimizer);
        }
        catch (InvalidDataException e)
        {
            Log($"coordinator: dropped the state from {NameOf(worker)} for step {version}: {e.Message}");
            Strike(worker, "an unusable state");
            if (_fetch == fetch) AskForState();
            return;
        }
        _fetch = null;
        AfterStep(fetch.Step, epoch);
    });
    /// <summary>The worker's replica cannot reach the current step's weights by itself: its work is sent again, with the run's state.</summary>
    public IReadOnlyList<RunCommand> StateRequested(TWorker worker, long step) => Emit(() =>
    {
        if (_rules.Peers && _early is { } early && step == early.Step && early.Table.Contains(worker))
        {
            _stateWanted.Add(worker);
            return;
        }
        if (!_rules.Peers || Phase != RunPhase.Training || step != _run.Step || !_table.Contains(worker) || _fetch is not null) return;
        SendState(worker);
    });

    /// <summary>
    /// The worker's work for the current step again, with the run's state; if the model does not hold
    /// the step's weights, the worker sits out this attempt and gets the state with the next step.
    /// </summary>
    private void SendState(TWorker worker)
    {
        _synced.Remove(worker);
        if (_run.Unapplied > 0)
        {
            AttemptLost(worker, "its replica needs the run's state, which it gets with the next step");
            return;
        }
        Log($"coordinator: worker {NameOf(worker)} missed a step's reduced gradient; sending it the run's state");
        SendRound(worker, _dispatch.OwnedBy(worker, Enumerable.Range(0, _run.Options.Shards)));
    }

    private SliceVerdict TakeSliceSent(TWorker owner, long step, int attempt, int slice)
    {
        if (_early is { } early && step == early.Step && attempt == early.Attempt)
        {
            _earlyResults.Add(() => TakeSliceSent(owner, step, attempt, slice));
            return SliceVerdict.Accepted;
        }
        if (_reduced is not { } reduced || Phase != RunPhase.Training || step != _run.Step || attempt != _attempt || _fetch is not null) return SliceVerdict.Stale;
        if (slice < 0 || slice >= _table.Length || !_table[slice].Equals(owner))
        {
            Log($"coordinator: dropped word of reduced slice {slice} of step {step} from {NameOf(owner)}: it does not own that slice");
            return SliceVerdict.Malformed;
        }
        var verdict = reduced.Mark(step, attempt, slice);
        if (verdict == SliceVerdict.Accepted && _collector is { IsComplete: true } collector && reduced.IsComplete) CompleteStep(collector);
        return verdict;
    }

    /// <summary>
    /// The step is complete on the replicas: the ones in this attempt apply it when told (the next
    /// step's work says so); the others get the state. True when the run also needs the weights now.
    /// </summary>
    private bool PeerStepDone(StepCollector collector)
    {
        _applied = (collector.Step, _attempt, _run.LearningRate);
        _synced.Clear();
        _synced.UnionWith(_table);
        return _run.Batch + 1 >= _run.BatchesPerEpoch                                // the epoch's end is evaluated on the weights
            || _rules.StateEvery > 0 && (_run.Step + 1) % _rules.StateEvery == 0      // a checkpoint is due
            || _stopReason is not null                                               // the run stops here and keeps its state
            || _stateWanted.Count > 0 || _dispatch.Live.Any(w => !_synced.Contains(w)); // a replica needs the state
    }

    /// <summary>The run needs the weights after <paramref name="collector"/>'s step: a replica of its table is asked for them.</summary>
    private void StartFetch(StepCollector collector)
    {
        var applied = _applied!.Value;
        _fetch = new Fetch(applied.Step, applied.Attempt, applied.Rate, collector.LossSum, collector.Correct);
        AskForState();
    }

    /// <summary>Asks the next replica of the table that was not asked yet; with none left, the steps since the run's weights are taken again.</summary>
    private void AskForState()
    {
        var fetch = _fetch!;
        if (fetch.Asked is { } asked) fetch.Tried.Add(asked);
        var next = _table.Where(w => _dispatch.Live.Contains(w) && !fetch.Tried.Contains(w)).ToList();
        if (next.Count == 0)
        {
            Rewind($"no replica holding step {fetch.Step + 1}'s state is left");
            return;
        }
        fetch.Asked = next[0];
        _out.Add(new RunCommand.FetchState(next[0], fetch.Step, fetch.Attempt, fetch.Rate));
        _out.Add(new RunCommand.Arm(RunTimer.Step, _run.Step, _rules.StepTimeout));
    }

    /// <summary>
    /// The replicas that held the steps since the run's weights are gone: the run goes back to the
    /// state it holds (same epoch) and takes those steps again, which gives the same bits.
    /// </summary>
    private void Rewind(string why)
    {
        long from = _run.Step;
        _run.Rewind();
        _fetch = null;
        _applied = null;
        _synced.Clear();
        DropEarly();
        _out.Add(new RunCommand.Disturbed());
        Log($"coordinator: {why}; going back to step {_run.Step}, the state held here, and taking steps {_run.Step}–{from} again");
        if (Phase == RunPhase.Training) StartStep();
    }

    /// <summary>
    /// A report whose loss is not finite, while the model cannot recompute it: the run is diverging
    /// if a second worker of the step reports the same (or the step has one worker); otherwise the
    /// one worker is suspect and the step goes on without it.
    /// </summary>
    private bool DivergedElsewhere(TWorker worker)
    {
        if (_nonFiniteStep != _run.Step) _nonFinite.Clear();
        _nonFiniteStep = _run.Step;
        _nonFinite.Add(worker);
        return _nonFinite.Count >= 2 || _table.Length <= 1;
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
        // While the model is behind the run, only replicas that hold the step's weights can take part.
        var able = _dispatch.Live.Where(w => _run.Unapplied == 0 || _synced.Contains(w)).ToArray();
        if (able.Length == 0 && _dispatch.Live.Count > 0)
        {
            Rewind("no replica holding this step's weights is left");
            return;
        }
        var table = able.Where(w => !benched.Contains(w)).ToArray();
        _table = table.Length > 0 ? table : able;
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
        if (_fetch is { } fetch)
        {
            Log($"coordinator: worker {NameOf(fetch.Asked!)} sent no state for step {fetch.Step + 1} within {_rules.StepTimeout.TotalSeconds:F1} s; asking another replica");
            AskForState();
            return;
        }
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
