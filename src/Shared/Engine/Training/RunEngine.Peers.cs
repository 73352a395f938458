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
    private int _attempt;
    private TWorker[] _table = [];
    private ReducedGradient? _reduced;
    /// <summary>Workers whose replica holds the run's current weights (without being sent them).</summary>
    private readonly HashSet<TWorker> _synced = [];
    private (long Step, int Attempt, float Rate)? _applied;
    /// <summary>Set while several workers are dropped at once, so that the step starts again once, not once per worker.</summary>
    private bool _holdAttempts;

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
        if (!_rules.Peers || Phase != RunPhase.Training || step != _run.Step || !_table.Contains(worker)) return;
        _synced.Remove(worker);
        Log($"coordinator: worker {NameOf(worker)} missed a step's reduced gradient; sending it the run's state");
        SendRound(worker, _dispatch.OwnedBy(worker, Enumerable.Range(0, _run.Options.Shards)));
    });

    private SliceVerdict TakeSlice(TWorker owner, long step, int attempt, int slice, float[] values)
    {
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
        _attempt = -1;
        StartAttempt([]);
    }

    /// <summary>
    /// A new attempt of the current step: the table is every live worker but <paramref name="benched"/>
    /// (all of them, if that leaves none); every shard is handed out again and every owner is told.
    /// </summary>
    private void StartAttempt(IReadOnlyCollection<TWorker> benched)
    {
        _attempt++;
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

    private int[] ExpectedSamples() => Enumerable.Range(0, _run.Options.Shards).Select(s => _run.ShardSamples(s).Length).ToArray();

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
