using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Protocol;
using Distributed.Worker;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Tests.Cluster;

public class WorkerActorSpecs() : Akka.TestKit.Xunit2.TestKit(new ClusterSettings(Roles.Worker).CreateSystem())
{
    private static readonly Shared.Data.ImageSet Data = TestData.Subset(200, 10).Train;
    private static readonly ModelSpec Spec = new(784, [32], 10);

    private (IActorRef Worker, Akka.TestKit.TestProbe Coordinator) Joined()
    {
        var worker = Sys.ActorOf(WorkerActor.Props(new WorkerActor.Settings("w", Data, 1, _ => { }, AkkaRemoteTransport.Instance)));
        var coordinator = CreateTestProbe();
        coordinator.Send(worker, new Welcome("run-1", Spec, new DataSpec(Data.Count, Data.Fingerprint(Data.Count))));
        return (worker, coordinator);
    }

    private static float[] Weights(int seed) => Mlp.Create<float>(784, [32], 10, seed).FlattenValues();

    [Fact]
    public void Worker_should_reply_the_shard_gradient_sum_the_numerics_library_computes()
    {
        var (worker, coordinator) = Joined();
        int[] samples = [5, 6, 7, 8, 150];
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(3)), [new PieceAssignment(2, samples)]));
        var result = coordinator.ExpectMsg<PieceResult>();

        // Directly: forward, summed fused loss, backward on the same weights.
        var model = Mlp.Create<float>(784, [32], 10, seed: 3);
        var (x, t) = new Shared.Data.BatchBuilder().Build(Data, samples);
        var loss = new SoftmaxCrossEntropy<float>(LossReduction.Sum);
        float lossSum = loss.Forward(model.Forward(x), t);
        model.Backward(loss.Backward().InputGradient);
        var expected = new float[model.ParameterCount];
        model.CopyGradientsTo(expected);

        Assert.Equal(("run-1", 0L, 2, 5), (result.RunId, result.Step, result.Shard, result.Samples));
        Assert.Equal(lossSum, result.LossSum, 4);
        Assert.Equal(expected, result.GradientSum.Inline);
    }

    [Fact]
    public void A_piece_should_come_back_as_one_result_equal_to_its_shards_added_in_order()
    {
        var (worker, coordinator) = Joined();
        int[] first = [5, 6, 7], second = [40, 41, 42, 43];
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(2)),
            [new PieceAssignment(0, [.. first, .. second], [0, 3, 7]), new PieceAssignment(4, [1], [0, 1, 1])]));
        var result = coordinator.ExpectMsg<PieceResult>();
        Assert.Equal((0, 2, 7), (result.Shard, result.ShardCount, result.Samples));

        // The two shards apart, on the same weights, added in shard order.
        var trainer = new Shared.Training.ShardTrainer(Mlp.Create<float>(784, [32], 10, seed: 2), seed: 0);
        var sum = new Shared.Training.GradientAccumulator(trainer.Model.ParameterCount);
        foreach (var shard in new[] { first, second })
        {
            trainer.Run(Data, shard, step: 0);
            sum.Add(trainer.Model);
        }
        Assert.Equal(sum.Total.ToArray(), result.GradientSum.Inline);
        // A piece whose boundaries do not fit its samples is dropped, not computed.
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Worker_should_reply_once_per_assigned_shard()
    {
        var (worker, coordinator) = Joined();
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(1)),
            [new PieceAssignment(0, [1, 2]), new PieceAssignment(3, [9, 10, 11])]));
        Assert.Equal((0, 2), (coordinator.ExpectMsg<PieceResult>().Shard, 2));
        Assert.Equal(3, coordinator.ExpectMsg<PieceResult>().Shard);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Work_for_a_stale_step_should_be_ignored()
    {
        var (worker, coordinator) = Joined();
        coordinator.Send(worker, new ComputePieces("run-1", 5, 5, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        Assert.Equal(5, coordinator.ExpectMsg<PieceResult>().Step);
        coordinator.Send(worker, new ComputePieces("run-1", 3, 3, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_worker_should_follow_a_coordinator_of_a_higher_term_and_fence_off_the_stale_one()
    {
        var (worker, old) = Joined();
        var standby = CreateTestProbe();
        var data = new DataSpec(Data.Count, Data.Fingerprint(Data.Count));
        // A standby took over (term 2): the worker follows it and computes its work.
        standby.Send(worker, new Welcome("run-2", Spec, data, Term: 2));
        standby.Send(worker, new ComputePieces("run-2", 7, 7, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        Assert.Equal(("run-2", 7L), (standby.ExpectMsg<PieceResult>().RunId, 7L));
        // The old coordinator (term 1) still sends: its work is dropped, its Welcome refused with the reason.
        old.Send(worker, new ComputePieces("run-1", 8, 8, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        old.Send(worker, new Welcome("run-1", Spec, data));
        var refused = old.ExpectMsg<WorkerFailed>();
        Assert.Contains("follows a coordinator of term 2", refused.Reason);
        old.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // So is a second coordinator of the same term: the first to welcome the worker keeps it.
        var rival = CreateTestProbe();
        rival.Send(worker, new Welcome("run-3", Spec, data, Term: 2));
        Assert.Contains("term 2", rival.ExpectMsg<WorkerFailed>().Reason);
        standby.Send(worker, new ComputePieces("run-2", 8, 8, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        Assert.Equal(8, standby.ExpectMsg<PieceResult>().Step);
    }

    [Fact]
    public void Work_for_another_run_or_without_the_needed_weights_should_be_ignored()
    {
        var (worker, coordinator) = Joined();
        coordinator.Send(worker, new ComputePieces("other-run", 0, 0, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        coordinator.Send(worker, new ComputePieces("run-1", 1, 1, null, [new PieceAssignment(0, [1])]));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_worker_whose_data_differs_should_say_so_instead_of_joining()
    {
        var worker = Sys.ActorOf(WorkerActor.Props(new WorkerActor.Settings("w", Data, 1, _ => { }, AkkaRemoteTransport.Instance)));
        var coordinator = CreateTestProbe();
        coordinator.Send(worker, new Welcome("run-1", Spec, new DataSpec(Data.Count, new string('0', 64))));
        var failed = coordinator.ExpectMsg<WorkerFailed>();
        Assert.Contains("differ from the coordinator's", failed.Reason);
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(1)), [new PieceAssignment(0, [1])]));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void An_idle_worker_should_register_again_and_carry_on_when_still_counted()
    {
        var worker = Sys.ActorOf(WorkerActor.Props(new WorkerActor.Settings("w", Data, 1, _ => { }, AkkaRemoteTransport.Instance, Idle: TimeSpan.FromMilliseconds(300))));
        var coordinator = CreateTestProbe();
        coordinator.Send(worker, new Welcome("run-1", Spec, new DataSpec(Data.Count, Data.Fingerprint(Data.Count))));
        Assert.Equal("w", coordinator.ExpectMsg<RegisterWorker>(TimeSpan.FromSeconds(3)).Name);
        // Still counted: a plain Welcome, and work goes on as before.
        coordinator.Send(worker, new Welcome("run-1", Spec, new DataSpec(Data.Count, Data.Fingerprint(Data.Count))));
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(3)), [new PieceAssignment(0, [1, 2])]));
        Assert.Equal(2, coordinator.FishForMessage<PieceResult>(_ => true, TimeSpan.FromSeconds(5)).Samples);
    }

    [Fact]
    public async Task A_worker_that_hears_from_no_coordinator_should_give_up_saying_why()
    {
        var gaveUp = new TaskCompletionSource<string>();
        var lines = new List<string>();
        Sys.ActorOf(WorkerActor.Props(new WorkerActor.Settings("w", Data, 1, l => { lock (lines) lines.Add(l); }, AkkaRemoteTransport.Instance,
            Orphaned: TimeSpan.FromMilliseconds(500), OnOrphaned: why => gaveUp.TrySetResult(why))));
        string why = await gaveUp.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("no work or welcome from a coordinator for 0 s", why);
        lock (lines) Assert.Contains(lines, l => l.Contains("giving up"));
    }

    [Fact]
    public async Task A_worker_told_it_is_excluded_should_stop_taking_part()
    {
        var stopped = new TaskCompletionSource<RunStopped>();
        var worker = Sys.ActorOf(WorkerActor.Props(new WorkerActor.Settings("w", Data, 1, _ => { }, AkkaRemoteTransport.Instance, OnStopped: s => stopped.TrySetResult(s))));
        var coordinator = CreateTestProbe();
        coordinator.Send(worker, new Welcome("run-1", Spec, new DataSpec(Data.Count, Data.Fingerprint(Data.Count))));
        coordinator.Send(worker, new Rejected("excluded from this run after 3 bad results"));
        Assert.Contains("excluded", (await stopped.Task.WaitAsync(TimeSpan.FromSeconds(5))).Reason);
        coordinator.Send(worker, new ComputePieces("run-1", 0, 0, TensorEnvelope.Of(Weights(3)), [new PieceAssignment(0, [1, 2])]));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }
}
