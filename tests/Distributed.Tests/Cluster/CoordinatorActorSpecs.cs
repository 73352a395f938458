using Akka.Actor;
using Akka.TestKit;
using Distributed.Coordinator.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Tests.Cluster;

public class CoordinatorActorSpecs() : Akka.TestKit.Xunit2.TestKit(new ClusterSettings(Roles.Coordinator).CreateSystem())
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Shards = 4, Hidden = [16] };
    private static readonly Shared.Data.MnistData Data = TestData.Subset(256, 50);

    private readonly TrainingRun _run = new(Options, Data);
    private readonly TaskCompletionSource<ClusterRunOutcome> _done = new();
    private readonly List<string> _log = [];

    /// <summary>Deadlines of the coordinator under test (specs about them shorten them before starting it).</summary>
    private TimeSpan StepTimeout = TimeSpan.FromSeconds(30);

    private TimeSpan WorkerTimeout = TimeSpan.FromSeconds(30);

    private (IActorRef Coordinator, TestProbe W1, TestProbe W2, ComputePieces Work1, ComputePieces Work2) Started()
    {
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(_run, new CoordinatorActor.Settings("run-1", 2, line => { lock (_log) _log.Add(line); },
            AkkaRemoteTransport.Instance, _done, StepTimeout, WorkerTimeout)));
        var (w1, w2) = (CreateTestProbe(), CreateTestProbe());
        w1.Send(coordinator, new RegisterWorker("w1", 1));
        Assert.Equal("run-1", w1.ExpectMsg<Welcome>().RunId);
        w2.Send(coordinator, new RegisterWorker("w2", 1));
        w2.ExpectMsg<Welcome>();
        return (coordinator, w1, w2, w1.ExpectMsg<ComputePieces>(), w2.ExpectMsg<ComputePieces>());
    }

    private static PieceResult Result(long step, int shard, float value, int samples = 16, int shards = 1) =>
        new("run-1", step, shard, samples, 1.0, 1, TensorEnvelope.Of(Enumerable.Repeat(value, ParameterCount).ToArray()), 1.0, shards);

    private static int ParameterCount => 784 * 16 + 16 + 16 * 10 + 10;

    /// <summary>The weights after step 0 of a fresh run whose mean gradient is <paramref name="mean"/> everywhere.</summary>
    private static float[] WeightsAfterFirstStep(float mean)
    {
        var expected = new TrainingRun(Options, Data);
        expected.Model.LoadGradients(Enumerable.Repeat(mean, ParameterCount).ToArray());
        expected.CompleteStep(0, 0);
        return expected.Model.FlattenValues();
    }

    /// <summary>The shards an assignment covers (a piece covers a run of them).</summary>
    private static int[] Covered(ComputePieces work) => work.Shards.SelectMany(a => Enumerable.Range(a.Shard, a.Count)).ToArray();

    [Fact]
    public void Coordinator_should_assign_every_shard_once_with_the_current_weights()
    {
        var (_, _, _, work1, work2) = Started();
        // Contiguous runs: w1's run starts the (single) reduction block, so it travels as one piece.
        Assert.Equal([0, 1], Covered(work1));
        Assert.Equal([0, 16, 32], Assert.Single(work1.Shards).Segments!);
        Assert.Equal([2, 3], Covered(work2));
        Assert.All(work2.Shards, a => Assert.Null(a.Segments));
        var all = work1.Shards.Concat(work2.Shards).OrderBy(s => s.Shard).SelectMany(s => s.Samples).ToArray();
        Assert.Equal(_run.Order.Take(64), all);
        Assert.Equal(_run.Model.FlattenValues(), work1.Weights!.Inline);
    }

    [Fact]
    public void Coordinator_should_reduce_shards_in_shard_order_whatever_the_arrival_order()
    {
        var (coordinator, w1, w2, _, _) = Started();
        // In float, ((1e8 + 1) − 1e8) + 1 = 1 but ((1 − 1e8) + 1) + 1e8 = 0: the order shows in the result.
        w2.Send(coordinator, Result(0, 3, 1f));
        w2.Send(coordinator, Result(0, 2, -1e8f));
        w1.Send(coordinator, Result(0, 1, 1f));
        w1.Send(coordinator, Result(0, 0, 1e8f));
        var next = w1.ExpectMsg<ComputePieces>();
        Assert.Equal(1, next.Step);

        Assert.Equal(WeightsAfterFirstStep(((1e8f + 1f) + -1e8f + 1f) / 64), next.Weights!.Inline);
    }

    [Fact]
    public void A_piece_should_count_for_all_its_shards_and_be_added_as_their_sum()
    {
        var (coordinator, w1, w2, _, _) = Started();
        // w1 holds [0, 1], which starts the (single) block, and answers with one piece: their sum, 1e8 + 1.
        // Added in shard order with w2's shards 2 and 3, ((1e8 + 1) + −1e8) + 1 = 1 in float.
        w2.Send(coordinator, Result(0, 3, 1f));
        w2.Send(coordinator, Result(0, 2, -1e8f));
        w1.Send(coordinator, Result(0, 0, 1e8f + 1f, samples: 32, shards: 2));
        var next = w1.ExpectMsg<ComputePieces>();
        Assert.Equal(1, next.Step);
        Assert.Equal(WeightsAfterFirstStep(((1e8f + 1f) + -1e8f + 1f) / 64), next.Weights!.Inline);
    }

    [Fact]
    public void A_piece_claiming_shards_the_worker_was_not_given_or_not_starting_a_block_should_be_dropped()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w2.Send(coordinator, Result(0, 1, 0.5f, samples: 32, shards: 2)); // w2 holds 2 and 3, not 1
        w2.Send(coordinator, Result(0, 2, 0.5f, samples: 32, shards: 2)); // 2 does not start the block
        AwaitAssert(() =>
        {
            lock (_log)
            {
                Assert.Contains(_log, l => l.Contains("shard 1") && l.Contains("NotAssigned"));
                Assert.Contains(_log, l => l.Contains("shard 2") && l.Contains("Malformed"));
            }
        });
    }

    [Fact]
    public void A_step_should_complete_only_when_every_shard_is_counted_and_drop_duplicates_and_strays()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w1.Send(coordinator, Result(0, 0, 0.5f));
        w1.Send(coordinator, Result(0, 0, 0.5f));            // duplicate
        w1.Send(coordinator, Result(7, 2, 0.5f));            // another step
        w1.Send(coordinator, Result(0, 9, 0.5f));            // no such shard
        w1.Send(coordinator, Result(0, 1, 0.5f, samples: 3)); // not what was assigned: shard 1 goes to w2 as well
        Assert.Equal([1], Covered(w2.ExpectMsg<ComputePieces>()));
        w1.Send(coordinator, Result(0, 1, 0.5f));
        w2.Send(coordinator, Result(0, 2, 0.5f));
        w1.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        w2.Send(coordinator, Result(0, 3, 0.5f));
        Assert.Equal(1, w1.ExpectMsg<ComputePieces>().Step);
        Assert.Equal(1, w2.ExpectMsg<ComputePieces>().Step);
        lock (_log)
        {
            Assert.Contains(_log, l => l.Contains("shard 0") && l.Contains("Duplicate"));
            Assert.Contains(_log, l => l.Contains("step 7") && l.Contains("WrongStep"));
            Assert.Contains(_log, l => l.Contains("shard 9") && l.Contains("UnknownShard"));
            Assert.Contains(_log, l => l.Contains("Malformed"));
        }
    }

    [Fact]
    public void Shards_of_a_worker_that_stops_mid_step_should_go_to_the_others()
    {
        var (coordinator, w1, w2, _, work2) = Started();
        w1.Send(coordinator, Result(0, 0, 0.5f));
        Sys.Stop(w2.Ref);
        var reassigned = w1.ExpectMsg<ComputePieces>();
        Assert.Equal(0, reassigned.Step);
        Assert.Equal(Covered(work2), Covered(reassigned));
        Assert.Equal(work2.Shards.SelectMany(s => s.Samples), reassigned.Shards.SelectMany(s => s.Samples));
    }

    [Fact]
    public void A_non_finite_gradient_should_be_dropped_and_its_shard_given_to_another_worker()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w1.Send(coordinator, Result(0, 0, float.NaN));
        var retry = w2.ExpectMsg<ComputePieces>();
        Assert.Equal([0], Covered(retry));
        lock (_log) Assert.Contains(_log, l => l.Contains("NotFinite"));
    }

    [Fact]
    public void A_result_for_a_shard_the_worker_was_not_given_should_be_dropped()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w2.Send(coordinator, Result(0, 0, 0.5f)); // shard 0 belongs to w1
        w1.Send(coordinator, Result(0, 1, 0.5f));
        w2.Send(coordinator, Result(0, 2, 0.5f));
        w2.Send(coordinator, Result(0, 3, 0.5f));
        w1.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // shard 0 still missing: no next step
        lock (_log) Assert.Contains(_log, l => l.Contains("shard 0") && l.Contains("NotAssigned"));
    }

    [Fact]
    public void A_worker_that_keeps_sending_bad_gradients_should_be_excluded()
    {
        var (coordinator, w1, w2, _, _) = Started();
        for (int i = 0; i < 3; i++)
        {
            w1.Send(coordinator, Result(0, 0, float.PositiveInfinity));
            if (i < 2) w2.ExpectMsg<ComputePieces>();
        }
        Assert.Contains("excluded", w1.ExpectMsg<Rejected>().Reason);
        // Everything now goes to w2, and w1 cannot come back.
        var rest = Covered(w2.ExpectMsg<ComputePieces>());
        Assert.Contains(1, rest);
        w1.Send(coordinator, new RegisterWorker("w1", 1));
        Assert.Contains("excluded", w1.ExpectMsg<Rejected>().Reason);
    }

    [Fact]
    public void Shards_of_a_silent_worker_should_go_to_others_at_the_step_deadline()
    {
        StepTimeout = TimeSpan.FromMilliseconds(400);
        var (coordinator, w1, w2, _, work2) = Started();
        w1.Send(coordinator, Result(0, 0, 0.5f));
        w1.Send(coordinator, Result(0, 1, 0.5f));
        var late = w1.ExpectMsg<ComputePieces>(TimeSpan.FromSeconds(3));
        Assert.Equal(Covered(work2), Covered(late));
        w1.Send(coordinator, Result(0, 2, 0.5f));
        w1.Send(coordinator, Result(0, 3, 0.5f));
        Assert.Equal(1, w1.ExpectMsg<ComputePieces>().Step);
        // The slow worker's answer arrives after all: a duplicate, ignored.
        w2.Send(coordinator, Result(0, 2, 0.5f));
        AwaitAssert(() => { lock (_log) Assert.Contains(_log, l => l.Contains("step 0 shard 2") && l.Contains("WrongStep")); });
    }

    [Fact]
    public void A_late_reply_from_a_lost_worker_should_not_be_counted_twice()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w2.Send(coordinator, new WorkerFailed("run-1", "disk on fire"));
        var taken = w1.ExpectMsg<ComputePieces>();
        Assert.Equal([2, 3], Covered(taken));
        w1.Send(coordinator, Result(0, 2, 0.5f));
        w2.Send(coordinator, Result(0, 2, 0.5f));
        AwaitAssert(() => { lock (_log) Assert.Contains(_log, l => l.Contains("step 0 shard 2") && l.Contains("Duplicate")); });
    }

    [Fact]
    public void A_worker_joining_mid_run_should_get_the_weights_and_shards_from_the_next_step()
    {
        var (coordinator, w1, w2, _, _) = Started();
        var w3 = CreateTestProbe();
        w3.Send(coordinator, new RegisterWorker("w3", 1));
        w3.ExpectMsg<Welcome>();
        w3.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        foreach (var (probe, shard) in new[] { (w1, 0), (w1, 1), (w2, 2), (w2, 3) }) probe.Send(coordinator, Result(0, shard, 0.5f));
        var work = w3.ExpectMsg<ComputePieces>();
        Assert.Equal(1, work.Step);
        Assert.Equal(_run.Model.FlattenValues(), work.Weights!.Inline);
        // Four shards over three workers: [0, 1], [2], [3].
        Assert.Equal([3], Covered(work));
    }

    [Fact]
    public async Task With_no_worker_left_the_run_should_wait_then_fail_clearly()
    {
        WorkerTimeout = TimeSpan.FromMilliseconds(800);
        var (coordinator, w1, w2, _, _) = Started();
        w1.Send(coordinator, new WorkerFailed("run-1", "gone"));
        w2.Send(coordinator, new WorkerFailed("run-1", "gone"));
        var failure = await Assert.ThrowsAsync<ClusterRunFailedException>(() => _done.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("no worker for 1 s at step 0", failure.Message);
        lock (_log) Assert.Contains(_log, l => l.Contains("no workers left; waiting up to 1 s"));
    }

    [Fact]
    public void With_no_worker_left_a_newcomer_should_take_the_orphaned_shards()
    {
        var (coordinator, w1, w2, _, _) = Started();
        w1.Send(coordinator, new WorkerFailed("run-1", "gone"));
        w2.Send(coordinator, new WorkerFailed("run-1", "gone"));
        var w3 = CreateTestProbe();
        w3.Send(coordinator, new RegisterWorker("w3", 1));
        w3.ExpectMsg<Welcome>();
        Assert.Equal([0, 1, 2, 3], Covered(w3.ExpectMsg<ComputePieces>()));
    }

    [Theory]
    [InlineData(17, 1.0, 1.0)]        // more correct than samples (once made the train accuracy 839,308,198 %)
    [InlineData(-1, 1.0, 1.0)]
    [InlineData(3, -0.5, 1.0)]        // a negative cross-entropy
    [InlineData(3, 1.0, double.NaN)]  // compute time
    [InlineData(3, 1.0, -4.0)]
    public void A_result_with_an_impossible_field_should_be_dropped_and_its_shard_recomputed(int correct, double loss, double computeMs)
    {
        var (coordinator, w1, w2, _, _) = Started();
        var good = Result(0, 2, 0.5f);
        w2.Send(coordinator, good with { Correct = correct, LossSum = loss, ComputeMilliseconds = computeMs });
        // Not counted: the shard goes to the other worker, whose honest answer completes the step.
        var redo = w1.ExpectMsg<ComputePieces>();
        Assert.Equal(0, redo.Step);
        Assert.Equal([2], Covered(redo));
        lock (_log) Assert.Contains(_log, l => l.Contains("step 0 shard 2") && l.Contains("Malformed"));
        w1.Send(coordinator, Result(0, 0, 0.5f, samples: 32, shards: 2));
        w2.Send(coordinator, Result(0, 3, 0.5f));
        w1.Send(coordinator, good);
        Assert.Equal(1, w1.ExpectMsg<ComputePieces>().Step);
    }

    [Fact]
    public void A_worker_that_takes_shards_and_never_answers_should_be_excluded_with_its_node()
    {
        StepTimeout = TimeSpan.FromMilliseconds(300);
        // Another node as the coordinator sees it: an ActorSystem with another address.
        using var otherNode = ActorSystem.Create("other-node");
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(_run, new CoordinatorActor.Settings("run-1", 2, line => { lock (_log) _log.Add(line); },
            AkkaRemoteTransport.Instance, _done, StepTimeout, WorkerTimeout)));
        var honest = CreateTestProbe();
        var silent = CreateTestProbe(otherNode);
        honest.Send(coordinator, new RegisterWorker("honest", 1));
        honest.ExpectMsg<Welcome>();
        silent.Send(coordinator, new RegisterWorker("silent", 1));
        silent.ExpectMsg<Welcome>();

        // The honest worker answers all it gets (its own shards, and the silent one's after each deadline).
        Rejected? rejected = null;
        var until = DateTime.UtcNow.AddSeconds(15);
        while (rejected is null && DateTime.UtcNow < until)
        {
            if (silent.HasMessages && silent.ReceiveOne(TimeSpan.Zero) is Rejected r) rejected = r;
            if (!honest.HasMessages) { Thread.Sleep(20); continue; }
            var work = honest.ExpectMsg<ComputePieces>();
            foreach (var a in work.Shards) honest.Send(coordinator, Result(work.Step, a.Shard, 0.5f, samples: 16 * a.Count, shards: a.Count));
        }
        rejected ??= silent.FishForMessage<Rejected>(_ => true, TimeSpan.FromSeconds(5));
        Assert.Contains("3 step deadlines in a row without an answer", rejected.Reason);
        lock (_log) Assert.Contains(_log, l => l.Contains("worker silent") && l.Contains("excluded after 3 step deadlines"));

        // The same node under another actor name stays out.
        var again = CreateTestProbe(otherNode);
        again.Send(coordinator, new RegisterWorker("silent-renamed", 1));
        Assert.Contains("is excluded from this run", again.ExpectMsg<Rejected>().Reason);
    }

    [Fact]
    public async Task An_exception_in_the_coordinator_should_fail_the_run_saying_why_not_restart_it_empty()
    {
        // The checkpoint hook hits a full disk after step 0.
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(_run, new CoordinatorActor.Settings("run-1", 2, line => { lock (_log) _log.Add(line); },
            AkkaRemoteTransport.Instance, _done, StepTimeout, WorkerTimeout, OnStep: (_, _) => throw new IOException("No space left on device"))));
        Watch(coordinator);
        var (w1, w2) = (CreateTestProbe(), CreateTestProbe());
        w1.Send(coordinator, new RegisterWorker("w1", 1));
        w1.ExpectMsg<Welcome>();
        w2.Send(coordinator, new RegisterWorker("w2", 1));
        w2.ExpectMsg<Welcome>();
        foreach (var (probe, work) in new[] { (w1, w1.ExpectMsg<ComputePieces>()), (w2, w2.ExpectMsg<ComputePieces>()) })
            foreach (var a in work.Shards) probe.Send(coordinator, Result(0, a.Shard, 0.5f, samples: 16 * a.Count, shards: a.Count));

        var failure = await Assert.ThrowsAsync<ClusterRunFailedException>(() => _done.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("IOException: No space left on device", failure.Message);
        Assert.Contains("--resume", failure.Message);
        Assert.Contains("stopped at step 1", failure.Message);
        Assert.StartsWith("the run failed", w1.FishForMessage<RunStopped>(_ => true).Reason);
        ExpectTerminated(coordinator); // not restarted as an empty coordinator
        lock (_log) Assert.DoesNotContain(_log.Skip(1), l => l.Contains("waiting for 2 worker(s)"));
    }
}
