using Distributed.Shared.Data;
using Distributed.Shared.Training;
using Command = Distributed.Shared.Training.RunEngine<string>.RunCommand;

namespace Distributed.Tests.Training;

/// <summary>
/// The coordinator's decisions with no ActorSystem and no real time: workers are strings, results
/// are computed here with <see cref="ShardTrainer"/>, deadlines pass when the spec says so.
/// </summary>
public sealed class RunEngineSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Shards = 4, Hidden = [16], TrainLimit = 256, TestLimit = 50 };
    private static readonly MnistData Data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 256, testLimit: 50);
    private static readonly RunRules Rules = new(MinWorkers: 2, MaxBadResults: 3, StepTimeout: TimeSpan.FromSeconds(5), WorkerTimeout: TimeSpan.FromSeconds(60));

    private readonly TrainingRun _run = new(Options, Data);
    private readonly RunEngine<string> _engine;

    public RunEngineSpecs() => _engine = new RunEngine<string>(_run, Rules);

    /// <summary>Two workers registered: the commands that started step 0.</summary>
    private IReadOnlyList<Command> Started()
    {
        _engine.Start();
        var first = _engine.Admit("w1", "node-1", "w1");
        Assert.DoesNotContain(first, c => c is Command.StepStarted); // one of the two needed
        return _engine.Admit("w2", "node-2", "w2");
    }

    private static (int First, int Count)[] PiecesOf(IEnumerable<Command> commands, string worker) =>
        commands.OfType<Command.Compute>().Where(c => c.Worker == worker).SelectMany(c => c.Pieces).ToArray();

    /// <summary>What a worker would send for a piece of the current step, computed from the run's current weights.</summary>
    private OfferedPiece Computed((int First, int Count) piece, long? step = null)
    {
        var trainer = new ShardTrainer(_run.Model.ReplicaSharingValues(), _run.Options.Seed);
        var parts = Enumerable.Range(piece.First, piece.Count).Select(_run.ShardSamples).ToArray();
        var segments = parts.Select(p => p.Length).Prepend(0).ToArray();
        for (int i = 1; i < segments.Length; i++) segments[i] += segments[i - 1];
        var outcomes = trainer.Run(Data.Train, parts.SelectMany(p => p).ToArray(), segments, step ?? _run.Step);
        var gradient = new float[_run.Model.ParameterCount];
        trainer.Model.CopyGradientsTo(gradient);
        double loss = 0;
        foreach (var o in outcomes) loss += o.LossSum;
        return new OfferedPiece(true, step ?? _run.Step, piece.First, piece.Count, outcomes.Sum(o => o.Samples), loss, outcomes.Sum(o => o.Correct), gradient, 1.0);
    }

    [Fact]
    public void Training_should_start_with_enough_workers_and_give_each_a_contiguous_run_of_shards()
    {
        var commands = Started();
        Assert.Contains(commands, c => c is Command.Welcome { Worker: "w2", Joining: true });
        Assert.Contains(commands, c => c is Command.TrainingStarted);
        Assert.Contains(commands, c => c is Command.StepStarted { Step: 0 });
        // One block: w1's run [0, 1] starts it and travels as one piece; w2's shards go one by one.
        Assert.Equal([(0, 2)], PiecesOf(commands, "w1"));
        Assert.Equal([(2, 1), (3, 1)], PiecesOf(commands, "w2"));
        Assert.Contains(commands, c => c is Command.Arm { Timer: RunTimer.Step, Step: 0 });
        Assert.Equal(RunPhase.Training, _engine.Phase);
    }

    [Fact]
    public void A_step_reduced_from_results_in_any_order_should_equal_the_single_process_step()
    {
        var twin = new TrainingRun(Options, Data);
        var (loss, correct) = new ShardedStep(twin.Model, Options.Shards, replicas: 1, Options.Seed).Run(Data.Train, twin.Order, twin.CurrentBatch.Start, twin.CurrentBatch.Count, twin.Step);
        twin.CompleteStep(loss, correct);

        var commands = Started();
        var pieces = PiecesOf(commands, "w2").Select(p => ("w2", p)).Concat(PiecesOf(commands, "w1").Select(p => ("w1", p))).ToList(); // last first
        var results = pieces.Select(p => (p.Item1, Computed(p.p))).ToList();
        IReadOnlyList<Command> last = [];
        foreach (var (worker, result) in results)
        {
            var (verdict, c) = _engine.Offer(worker, result);
            Assert.Equal(ShardVerdict.Accepted, verdict);
            last = c;
        }
        Assert.Contains(last, c => c is Command.StepCompleted { Step: 0 });
        Assert.Contains(last, c => c is Command.StepStarted { Step: 1 });
        Assert.Equal(twin.Model.FlattenValues(), _run.Model.FlattenValues());
    }

    [Fact]
    public void A_worker_silent_for_three_deadlines_should_be_excluded_with_its_node()
    {
        // w1 answers everything it is given; w2 takes shards and never answers.
        IReadOnlyList<Command> step = Started();
        for (int deadline = 1; deadline <= 3; deadline++)
        {
            foreach (var piece in PiecesOf(step, "w1")) _engine.Offer("w1", Computed(piece));
            var after = _engine.StepDeadlinePassed(_run.Step);
            if (deadline == 3)
            {
                Assert.Contains(after, c => c is Command.Refuse { Worker: "w2" } r && r.Reason.Contains("3 step deadlines in a row"));
                Assert.Contains(after, c => c is Command.Release { Worker: "w2" });
                break;
            }
            Assert.Equal(PiecesOf(step, "w2").SelectMany(p => Enumerable.Range(p.First, p.Count)),
                PiecesOf(after, "w1").SelectMany(p => Enumerable.Range(p.First, p.Count))); // w2's shards go to w1 too
            IReadOnlyList<Command> last = [];
            foreach (var piece in PiecesOf(after, "w1")) last = _engine.Offer("w1", Computed(piece)).Commands;
            Assert.Contains(last, c => c is Command.StepCompleted);
            step = last;
        }
        Assert.Equal(["w1"], _engine.Live);
        Assert.True(_engine.IsExcluded("node-2"));
        var again = _engine.Admit("w2-renamed", "node-2", "w2-renamed");
        Assert.Contains(again, c => c is Command.Refuse r && r.Reason.Contains("is excluded from this run"));
        Assert.DoesNotContain(again, c => c is Command.Welcome);
    }

    [Fact]
    public void A_lost_worker_should_hand_its_missing_shards_to_the_others_and_the_last_one_arm_the_wait()
    {
        var commands = Started();
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w1", Computed((0, 2))).Verdict);
        var lost = _engine.Lose("w2", "is unreachable");
        Assert.Contains(lost, c => c is Command.Release { Worker: "w2" });
        Assert.Contains(lost, c => c is Command.Disturbed);
        Assert.Equal([2, 3], PiecesOf(lost, "w1").SelectMany(p => Enumerable.Range(p.First, p.Count)));
        var none = _engine.Lose("w1", "stopped");
        Assert.Contains(none, c => c is Command.Arm { Timer: RunTimer.NoWorkers });
        var failed = _engine.NoWorkersDeadlinePassed();
        var end = Assert.Single(failed.OfType<Command.Ended>());
        Assert.Equal(RunEnding.Failed, end.How);
        Assert.Contains("no worker for 60 s at step 0", end.Reason);
        Assert.Equal(RunPhase.Done, _engine.Phase);
    }

    [Fact]
    public void Impossible_results_should_be_refused_and_their_shards_computed_elsewhere()
    {
        Started();
        var honest = Computed((2, 1));
        var (first, redo) = _engine.Offer("w2", honest with { Correct = honest.Samples + 1 });
        Assert.Equal(ShardVerdict.Malformed, first);
        Assert.Equal([(2, 1)], PiecesOf(redo, "w1")); // someone else computes the shard now
        Assert.Equal(ShardVerdict.NotAssigned, _engine.Offer("w1", Computed((3, 1))).Verdict); // shard 3 is w2's alone
        Assert.Equal(ShardVerdict.Malformed, _engine.Offer("w2", honest with { ComputeMilliseconds = double.NaN }).Verdict);
        var (verdict, commands) = _engine.Offer("w2", honest with { LossSum = -1 });
        Assert.Equal(ShardVerdict.Malformed, verdict);
        Assert.Contains(commands, c => c is Command.Refuse { Worker: "w2" } r && r.Reason.Contains("3 bad results"));
        Assert.Equal(3, _engine.BadResults("w2"));
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w1", honest).Verdict); // the redone shard counts from w1
    }

    [Fact]
    public void A_stop_should_let_the_step_finish_then_end_the_run_interrupted()
    {
        var commands = Started();
        var stop = _engine.StopRequested("SIGTERM");
        Assert.Contains(stop, c => c is Command.Arm { Timer: RunTimer.Abandon });
        IReadOnlyList<Command> last = [];
        foreach (var worker in new[] { "w1", "w2" })
            foreach (var piece in PiecesOf(commands, worker)) last = _engine.Offer(worker, Computed(piece)).Commands;
        Assert.Contains(last, c => c is Command.StepCompleted { Step: 0 });
        Assert.DoesNotContain(last, c => c is Command.StepStarted);
        Assert.Equal(RunEnding.Interrupted, Assert.Single(last.OfType<Command.Ended>()).How);
        Assert.Equal(1, _run.Step); // a step boundary: checkpointable
    }

    [Fact]
    public void Too_few_workers_in_time_should_fail_naming_how_many_came()
    {
        _engine.Start();
        _engine.Admit("w1", "node-1", "w1");
        var end = Assert.Single(_engine.NoWorkersDeadlinePassed().OfType<Command.Ended>());
        Assert.Contains("only 1 of the 2 worker(s) needed registered within 60 s", end.Reason);
    }

    [Fact]
    public void A_worker_lost_as_unreachable_should_be_welcomed_back_when_reachable_again()
    {
        Started();
        _engine.Lose("w2", "is unreachable", mayReturn: true);
        _engine.Lose("w1", "stopped");
        Assert.Equal(["w2"], _engine.Away);
        var back = _engine.Returned("w2");
        Assert.Contains(back, c => c is Command.Welcome { Worker: "w2", Joining: true });
        Assert.Contains(back, c => c is Command.Cancel { Timer: RunTimer.NoWorkers });
        // The step's missing shards (all four: nobody answered) go to the returning worker at once.
        Assert.Equal([0, 1, 2, 3], PiecesOf(back, "w2").SelectMany(p => Enumerable.Range(p.First, p.Count)));
        Assert.Equal(["w2"], _engine.Live);
        Assert.Empty(_engine.Returned("w1")); // stopped, not cut off: it must register again itself
    }

    [Fact]
    public void Duplicates_strays_and_other_runs_results_should_be_dropped_and_the_step_complete_once()
    {
        var commands = Started();
        var piece = Computed((2, 1));
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w2", piece).Verdict);
        Assert.Equal(ShardVerdict.Duplicate, _engine.Offer("w2", piece).Verdict);
        Assert.Equal(ShardVerdict.WrongStep, _engine.Offer("w2", Computed((3, 1), step: 7)).Verdict);
        Assert.NotEqual(ShardVerdict.Accepted, _engine.Offer("w2", Computed((3, 1)) with { ForThisRun = false }).Verdict);
        Assert.Equal(ShardVerdict.UnknownShard, _engine.Offer("w2", Computed((3, 1)) with { First = 99 }).Verdict);
        // Still open: shards 0, 1 (w1's) and 3 (w2's) are missing, whatever arrived twice.
        Assert.Equal(0, _run.Step);
        IReadOnlyList<Command> last = _engine.Offer("w2", Computed((3, 1))).Commands;
        Assert.DoesNotContain(last, c => c is Command.StepCompleted);
        last = _engine.Offer("w1", Computed((0, 2))).Commands;
        Assert.Single(last.OfType<Command.StepCompleted>());
        Assert.Equal(1, _run.Step);
    }

    [Fact]
    public void A_piece_claiming_shards_its_worker_was_not_given_or_not_starting_a_block_should_be_dropped()
    {
        Started();
        // w1 holds [0, 1] (the block's start, one piece); w2 holds 2 and 3 one by one.
        Assert.Equal(ShardVerdict.NotAssigned, _engine.Offer("w2", Computed((0, 2))).Verdict);
        // Several shards in one piece must start a block: 2 does not, so the sum cannot be added as a block.
        Assert.Equal(ShardVerdict.Malformed, _engine.Offer("w2", Computed((2, 2))).Verdict);
        Assert.Equal(2, _engine.BadResults("w2")); // each a strike towards exclusion
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w1", Computed((0, 2))).Verdict);
    }

    [Fact]
    public void A_non_finite_gradient_should_count_against_its_worker_and_its_shard_go_to_another()
    {
        Started();
        var piece = Computed((2, 1));
        var poisoned = (float[])piece.Gradient.Clone();
        poisoned[17] = float.NaN;
        var (verdict, redo) = _engine.Offer("w2", piece with { Gradient = poisoned });
        Assert.NotEqual(ShardVerdict.Accepted, verdict);
        Assert.Equal(1, _engine.BadResults("w2"));
        Assert.Equal([(2, 1)], PiecesOf(redo, "w1"));
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w1", piece).Verdict);
    }

    [Fact]
    public void A_late_reply_from_a_lost_worker_should_not_be_counted_twice()
    {
        Started();
        var lost = _engine.Lose("w2", "is unreachable");
        Assert.Equal([2, 3], PiecesOf(lost, "w1").SelectMany(p => Enumerable.Range(p.First, p.Count)));
        // w1 computes shard 2 again; w2's own answer then arrives after all, and is a duplicate.
        Assert.Equal(ShardVerdict.Accepted, _engine.Offer("w1", Computed((2, 1))).Verdict);
        Assert.Equal(ShardVerdict.Duplicate, _engine.Offer("w2", Computed((2, 1))).Verdict);
        IReadOnlyList<Command> last = [];
        foreach (var piece in PiecesOf(lost, "w1").Where(p => p.First != 2).Prepend((0, 2))) last = _engine.Offer("w1", Computed(piece)).Commands;
        Assert.Single(last.OfType<Command.StepCompleted>());
        var twin = new TrainingRun(Options, Data);
        var (loss, correct) = new ShardedStep(twin.Model, Options.Shards, replicas: 1, Options.Seed).Run(Data.Train, twin.Order, twin.CurrentBatch.Start, twin.CurrentBatch.Count, twin.Step);
        twin.CompleteStep(loss, correct);
        Assert.Equal(twin.Model.FlattenValues(), _run.Model.FlattenValues());
    }

    [Fact]
    public void A_worker_joining_mid_step_should_be_welcomed_and_get_shards_from_the_next_step()
    {
        var commands = Started();
        var joined = _engine.Admit("w3", "node-3", "w3");
        Assert.Contains(joined, c => c is Command.Welcome { Worker: "w3", Joining: true });
        Assert.Empty(PiecesOf(joined, "w3")); // step 0 is already shared out
        IReadOnlyList<Command> last = [];
        foreach (var worker in new[] { "w1", "w2" })
            foreach (var piece in PiecesOf(commands, worker)) last = _engine.Offer(worker, Computed(piece)).Commands;
        Assert.Contains(last, c => c is Command.StepStarted { Step: 1 });
        Assert.NotEmpty(PiecesOf(last, "w3"));
        Assert.Equal(4, new[] { "w1", "w2", "w3" }.Sum(w => PiecesOf(last, w).Sum(p => p.Count)));
    }

    [Fact]
    public void With_no_worker_left_a_newcomer_should_take_the_orphaned_shards()
    {
        Started();
        _engine.Lose("w1", "stopped");
        var none = _engine.Lose("w2", "stopped");
        Assert.Contains(none, c => c is Command.Arm { Timer: RunTimer.NoWorkers });
        var rescue = _engine.Admit("w4", "node-4", "w4");
        Assert.Contains(rescue, c => c is Command.Cancel { Timer: RunTimer.NoWorkers });
        Assert.Equal([0, 1, 2, 3], PiecesOf(rescue, "w4").SelectMany(p => Enumerable.Range(p.First, p.Count)));
    }

    [Fact]
    public void A_failure_of_the_host_should_end_the_run_failed_with_the_reason()
    {
        Started();
        var failed = _engine.HostFailed("disk full");
        var end = Assert.Single(failed.OfType<Command.Ended>());
        Assert.Equal(RunEnding.Failed, end.How);
        Assert.Contains("disk full", end.Reason ?? end.Error?.Message);
        Assert.Equal(RunPhase.Done, _engine.Phase);
    }
}
