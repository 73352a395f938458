namespace Distributed.Shared.Training;

/// <summary>The engine's step cycle: hand out shards, judge results, reassign, complete, end.</summary>
public sealed partial class RunEngine<TWorker>
{
    private void StartStep()
    {
        // With the peer exchange the engine sees reports, not gradients: its collector keeps the loss order and who is done.
        _collector = new StepCollector(_run.Step, ExpectedSamples(), _rules.Peers ? 0 : _run.Model.ParameterCount, _plan);
        _out.Add(new RunCommand.StepStarted(_run.Step));
        if (_rules.Peers)
        {
            StartPeerStep();
            return;
        }
        _dispatch.NewStep();
        Compute(_dispatch.Assign(_collector.Missing.ToArray()));
        _out.Add(new RunCommand.Arm(RunTimer.Step, _run.Step, _rules.StepTimeout));
    }

    /// <summary>Samples in each shard of the current batch (0 for an empty shard).</summary>
    private int[] ExpectedSamples() => Enumerable.Range(0, _run.Options.Shards).Select(s => _run.ShardSamples(s).Length).ToArray();

    /// <summary>A worker's shards as pieces: a run of shards that starts a reduction block travels (and comes back) as one.</summary>
    private void Compute(IReadOnlyList<(TWorker Worker, int[] Shards)> plan)
    {
        foreach (var (worker, shards) in plan)
        {
            var pieces = _piecesFit ? _plan.Pieces(shards) : shards.Select(s => (First: s, Count: 1)).ToList();
            _out.Add(new RunCommand.Compute(worker, _run.Step, pieces));
        }
    }

    private ShardVerdict Collect(TWorker worker, OfferedPiece r)
    {
        if (Phase == RunPhase.Done)
        {
            Log($"coordinator: dropped result for step {r.Step} shard {r.First}: the run is over");
            r.Release?.Invoke();
            return ShardVerdict.WrongStep;
        }
        if (_collector is not { } collector)
        {
            r.Release?.Invoke();
            return ShardVerdict.WrongStep;
        }
        if (_rules.Peers && r.ForThisRun && _early is { } early && r.Step == early.Step && r.Attempt == early.Attempt)
        {
            _earlyResults.Add(() => Collect(worker, r));
            return ShardVerdict.Accepted;
        }
        ShardVerdict verdict;
        if (!r.ForThisRun) verdict = ShardVerdict.WrongRun;
        else if (_rules.Peers && (r.Attempt != _attempt || r.Gradient.Length != 0)) verdict = r.Attempt != _attempt ? ShardVerdict.WrongStep : ShardVerdict.Malformed;
        else if (!double.IsFinite(r.ComputeMilliseconds) || r.ComputeMilliseconds < 0) verdict = ShardVerdict.Malformed;
        else if (r.Step == collector.Step && r.First >= 0 && r.Count >= 1 && r.First + r.Count <= _run.Options.Shards &&
                 !Enumerable.Range(r.First, r.Count).All(s => _dispatch.WasGiven(s, worker))) verdict = ShardVerdict.NotAssigned;
        else verdict = collector.Offer(r.Step, r.First, r.Count, r.Samples, r.LossSum, r.Correct, r.Gradient, r.Release);
        if (verdict != ShardVerdict.Accepted)
        {
            r.Release?.Invoke();
            Reject(worker, r, verdict);
            return verdict;
        }
        if (_members.TryGetValue(worker, out var member)) member.SilentDeadlines = 0;
        _out.Add(new RunCommand.Credit(worker, r.Count, r.Samples, r.ComputeMilliseconds));
        if (StepReady(collector)) CompleteStep(collector);
        else if (_rules.Peers && collector.IsComplete) SendEarly(collector);
        return verdict;
    }

    /// <summary>Logs a dropped result; a bad one (not merely late or repeated) also costs the worker a strike and the shard a new owner.</summary>
    private void Reject(TWorker worker, OfferedPiece r, ShardVerdict verdict)
    {
        var collector = _collector!;
        if (verdict == ShardVerdict.NotFinite && r.Step == collector.Step && (_run.Unapplied > 0 ? DivergedElsewhere(worker) : Diverged(r)))
        {
            var diverged = new TrainingDivergedException(_run, double.NaN);
            Fail(diverged.Message, diverged);
            return;
        }
        Log($"coordinator: dropped result step {r.Step} shard {r.First} from {NameOf(worker)}: {verdict} (at step {collector.Step})");
        if (!verdict.IsBad() || !_members.TryGetValue(worker, out var member)) return;
        _out.Add(new RunCommand.Disturbed());
        if (++member.BadResults >= _rules.MaxBadResults && _dispatch.Live.Contains(worker))
        {
            Exclude(worker, $"{member.BadResults} bad results");
            return;
        }
        if (_rules.Peers)
        {
            if (verdict is ShardVerdict.NotFinite or ShardVerdict.Malformed && r.Step == collector.Step) AttemptLost(worker, $"a {verdict} result");
            return;
        }
        // A broken result for its own shard: someone else computes that shard now.
        if (verdict is ShardVerdict.NotFinite or ShardVerdict.Malformed && r.Step == collector.Step)
        {
            var redo = Enumerable.Range(r.First, Math.Clamp(r.Count, 1, _run.Options.Shards))
                .Where(s => s < _run.Options.Shards && _dispatch.WasGiven(s, worker) && !collector.Has(s)).ToArray();
            if (redo.Length > 0) Compute(_dispatch.Assign(redo, avoid: worker));
        }
    }

    /// <summary>
    /// A non-finite result is either a broken worker or a diverging run (e.g. a learning rate far too
    /// high): the engine recomputes the shards itself from the same weights (the model holds them
    /// until the step completes) and blames the worker only if its own loss is finite.
    /// </summary>
    private bool Diverged(OfferedPiece r)
    {
        _verifier ??= new ShardTrainer(_run.Model, _run.Options.Seed);
        double loss = 0;
        for (int shard = r.First; shard < r.First + r.Count && shard < _run.Options.Shards; shard++)
            if (_run.ShardSamples(shard) is { Length: > 0 } samples) loss += _verifier.Run(_run.Data.Train, samples, _run.Step).LossSum;
        return !double.IsFinite(loss);
    }

    /// <summary>
    /// The step deadline passed: shards still missing go (also) to other workers; a worker that let
    /// <see cref="RunRules.MaxBadResults"/> deadlines in a row pass holding shards is excluded, so a
    /// worker that takes shards and never answers costs a few deadlines, not one per step forever.
    /// </summary>
    private void Overdue()
    {
        if (_rules.Peers)
        {
            PeerOverdue();
            return;
        }
        var collector = _collector!;
        foreach (var worker in _dispatch.Live.ToList())
        {
            var late = _dispatch.OwnedBy(worker, collector.Missing);
            if (late.Length == 0) continue;
            var member = _members[worker];
            if (++member.SilentDeadlines >= _rules.MaxBadResults && _dispatch.Live.Count > 1)
            {
                Exclude(worker, $"{member.SilentDeadlines} step deadlines in a row without an answer");
                continue;
            }
            Log($"coordinator: worker {member.Name} silent for {_rules.StepTimeout.TotalSeconds:F1} s on shards {string.Join(",", late)} of step {_run.Step}; giving them to others too");
            Compute(_dispatch.Assign(late, avoid: worker));
        }
        Compute(_dispatch.Assign(_dispatch.Unowned(collector.Missing)));
        _out.Add(new RunCommand.Arm(RunTimer.Step, _run.Step, _rules.StepTimeout));
    }

    /// <summary>Takes a worker out of the run for good: its node is refused from now on, its shards go to the others.</summary>
    private void Exclude(TWorker worker, string why)
    {
        _excluded.Add(_members[worker].Node);
        _out.Add(new RunCommand.Refuse(worker, $"excluded from this run after {why}"));
        Remove(worker, $"excluded after {why}");
    }

    private void Remove(TWorker worker, string why)
    {
        if (!_dispatch.Live.Contains(worker)) return;
        _out.Add(new RunCommand.Release(worker));
        _synced.Remove(worker);
        var orphans = _dispatch.Remove(worker, _collector?.Missing ?? []);
        // A step waiting for its pieces, or for the state of the replica just lost, completes late.
        if (_collector is { IsComplete: false } || (_rules.Peers && _fetch is { Asked: { } asked } && worker.Equals(asked)))
            _out.Add(new RunCommand.Disturbed());
        string where = _members.TryGetValue(worker, out var m) ? m.Node : "?";
        Log($"coordinator: worker {NameOf(worker)} at {where} {why}; {_dispatch.Live.Count} left" +
            (orphans.Length > 0 && !_rules.Peers ? $"; shards {string.Join(",", orphans)} of step {_run.Step} reassigned" : ""));
        // With the peer exchange, the replicas may hold state the run's model does not have yet.
        if (_rules.Peers && _fetch is { } fetch && worker.Equals(fetch.Asked)) AskForState();
        else if (_rules.Peers && _run.Unapplied > 0 && !_dispatch.Live.Any(_synced.Contains)) Rewind($"no replica holding step {_run.Step}'s weights is left");
        if (_dispatch.Live.Count == 0)
        {
            Log($"coordinator: no workers left; waiting up to {_rules.WorkerTimeout.TotalSeconds:F0} s for one to join");
            _out.Add(new RunCommand.Arm(RunTimer.NoWorkers, _run.Step, _rules.WorkerTimeout));
            return;
        }
        if (_rules.Peers) AttemptLost(worker, why);
        else Compute(_dispatch.Assign(orphans));
    }

    private void CompleteStep(StepCollector collector)
    {
        EpochMetrics? epoch = null;
        try
        {
            if (!_rules.Peers)
            {
                collector.WriteMeanTo(_run.Model);
                epoch = _run.CompleteStep(collector.LossSum, collector.Correct);
            }
            else if (PeerStepDone(collector))
            {
                StartFetch(collector);
                return;
            }
            else _run.CompleteStepElsewhere(collector.LossSum, collector.Correct);
        }
        catch (TrainingDivergedException e)
        {
            Fail(e.Message, e);
            return;
        }
        AfterStep(collector.Step, epoch);
    }

    /// <summary>The step is done (here or, with the peer exchange, on the replicas): the run ends, stops or takes the next step.</summary>
    private void AfterStep(long step, EpochMetrics? epoch)
    {
        _out.Add(new RunCommand.StepCompleted(step, epoch));
        if (_run.Finished) End(RunEnding.Finished);
        else if (_stopReason is not null) Interrupt(_stopReason, $"step {step} finished");
        else StartStep();
    }

    /// <summary>Ends the run between steps: the run stays at a step boundary, ready to be checkpointed and resumed.</summary>
    private void Interrupt(string reason, string how)
    {
        Log($"coordinator: stopped ({reason}, {how}) at step {_run.Step}");
        End(RunEnding.Interrupted, reason);
    }

    /// <param name="error">What the run fails with (default: the host's failure for the reason).</param>
    private void Fail(string reason, Exception? error = null)
    {
        Log($"coordinator: giving up: {reason}");
        End(RunEnding.Failed, reason, error);
    }

    private void End(RunEnding how, string? reason = null, Exception? error = null)
    {
        // A run that ends while its model is behind keeps the state it holds: a resume takes those steps again.
        if (_run.Unapplied > 0)
        {
            Log($"coordinator: the run's state is kept at step {_run.Step - _run.Unapplied}, the last one whose weights it holds");
            _run.Rewind();
        }
        _fetch = null;
        Phase = RunPhase.Done;
        _out.Add(new RunCommand.CancelAll());
        _out.Add(new RunCommand.Ended(how, reason, error));
    }
}
