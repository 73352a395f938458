using Distributed.Coordinator.Cli;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cluster;

public class ClusterTrainingSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 200 };

    // The headline guarantee: who computes the shards never changes the weights.
    [Fact]
    public async Task Cluster_runs_with_1_2_and_3_workers_should_end_with_the_single_process_hash()
    {
        var data = TestData.Subset(640, 200);
        string local = new LocalTrainer(Options, data, _ => { }, replicas: 2).Run().FinalWeightsSha256;
        foreach (int workers in new[] { 1, 2, 3 })
        {
            var outcome = await ClusterSimulation.RunAsync(new TrainingRun(Options, data), SimulationSpec.For(workers), RunHooks.Silent, TimeSpan.FromMinutes(2));
            Assert.Equal(local, outcome.Result.FinalWeightsSha256);
            Assert.Equal(workers, outcome.Workers.Length);
        }
    }

    [Fact]
    public async Task With_reduction_blocks_cluster_runs_should_end_with_the_single_process_hash_for_those_blocks()
    {
        var data = TestData.Subset(640, 200);
        var options = Options with { Shards = 6, Blocks = 2 };
        string local = new LocalTrainer(options, data, _ => { }, replicas: 2).Run().FinalWeightsSha256;
        foreach (int workers in new[] { 1, 2, 4 })
        {
            var outcome = await ClusterSimulation.RunAsync(new TrainingRun(options, data), SimulationSpec.For(workers), RunHooks.Silent, TimeSpan.FromMinutes(2));
            Assert.Equal(local, outcome.Result.FinalWeightsSha256);
        }
    }

    [Fact]
    public async Task Tensors_should_travel_on_the_data_plane_with_the_same_hash_as_over_Akka_Remote()
    {
        var data = TestData.Subset(640, 200);
        var log = new List<string>();
        long before = Distributed.Shared.Protocol.DataPlane.DataPlaneConnection.Delivered;
        var onPlane = await ClusterSimulation.RunAsync(new TrainingRun(Options, data), SimulationSpec.For(2), new RunHooks(l => { lock (log) log.Add(l); }), TimeSpan.FromMinutes(2));
        long delivered = Distributed.Shared.Protocol.DataPlane.DataPlaneConnection.Delivered - before;
        var overAkka = await ClusterSimulation.RunAsync(new TrainingRun(Options, data), SimulationSpec.For(2) with { DataPlane = false }, RunHooks.Silent, TimeSpan.FromMinutes(2));
        Assert.Equal(overAkka.Result.FinalWeightsSha256, onPlane.Result.FinalWeightsSha256);
        lock (log) Assert.Equal(2, log.Count(l => l.Contains("data plane: connected to the coordinator")));
        // 10 steps: weights to two workers and their results back, nearly all of it on the data plane.
        Assert.True(delivered >= 30, $"only {delivered} messages crossed the data plane");
    }

    [Fact]
    public void A_model_too_large_for_the_frame_size_should_fail_at_once_with_a_clear_error()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var started = DateTime.UtcNow;
        int code = Distributed.Coordinator.Program.Run(["train", "--workers", "1", "--hidden", "4000,1000", "--train-limit", "64",
            "--out", Path.Combine(Path.GetTempPath(), "frame-test")], output, error);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains("more than the remote frame size of 16,000,000 bytes", error.ToString());
        Assert.Contains("--frame-size", error.ToString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Raising_the_frame_size_should_let_a_larger_model_train()
    {
        var data = TestData.Subset(128, 50);
        var options = Options with { Hidden = [1400], TrainLimit = 128, BatchSize = 128 };
        // 784·1400 + 1400 + 1400·10 + 10 = 1,113,010 parameters: 4.45 MB per message.
        var outcome = await ClusterSimulation.RunAsync(new TrainingRun(options, data), SimulationSpec.For(1) with { FrameSize = 5_000_000 }, RunHooks.Silent, TimeSpan.FromMinutes(2));
        Assert.Single(outcome.Result.Epochs);
    }
}
