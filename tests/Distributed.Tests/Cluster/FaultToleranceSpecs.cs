using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cluster;

/// <summary>In-process clusters disturbed mid-run must end with the undisturbed hash.</summary>
public class FaultToleranceSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 100 };

    private static string Undisturbed(TrainingOptions? options = null) => new LocalTrainer(options ?? Options, TestData.Subset(640, 100), _ => { }).Run().FinalWeightsSha256;

    // The MLP, and a small CNN with dropout (masks keyed by sample and step, not by worker).
    [Theory]
    [InlineData(null)]
    [InlineData("conv4k3,relu,maxpool2,dropout0.25,flatten,dense10")]
    public async Task Stopping_a_worker_node_mid_epoch_should_not_change_the_result(string? architecture)
    {
        var log = new List<string>();
        SimulatedCluster? cluster = null;
        var options = Options with { Architecture = architecture };
        var run = new TrainingRun(options, TestData.Subset(640, 100));
        // After step 4 the coordinator waits until worker-2's node is down, so step 5 is handed to a dead worker.
        cluster = SimulatedCluster.Start(run, SimulationSpec.For(3), new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (r, _) =>
        {
            if (r.Step == 4) Assert.True(cluster!.StopWorker(cluster.Workers[1]).Wait(TimeSpan.FromSeconds(30)));
        } });
        await using (cluster)
        {
            var outcome = await cluster.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(Undisturbed(options), outcome.Result.FinalWeightsSha256);
            Assert.Equal(20 * 4, outcome.Workers.Sum(w => (int)w.GetType().GetProperty("ShardsDone")!.GetValue(w)!));
        }
        lock (log) Assert.Contains(log, l => l.Contains("worker-2") && (l.Contains("stopped") || l.Contains("unreachable")));
    }

    [Fact]
    public async Task A_worker_joining_mid_run_should_not_change_the_result()
    {
        var log = new List<string>();
        SimulatedCluster? cluster = null;
        var run = new TrainingRun(Options, TestData.Subset(640, 100));
        cluster = SimulatedCluster.Start(run, SimulationSpec.For(1), new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (r, _) =>
        {
            if (r.Step == 3)
            {
                // Hold the run until the newcomer is a cluster member (joining does not need this
                // actor), then give its registration a moment to arrive.
                var joiner = Akka.Cluster.Cluster.Get(cluster!.AddWorker());
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (joiner.SelfMember.Status != Akka.Cluster.MemberStatus.Up && DateTime.UtcNow < deadline) Thread.Sleep(50);
                Thread.Sleep(500);
            }
        } });
        await using (cluster)
        {
            var outcome = await cluster.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(Undisturbed(), outcome.Result.FinalWeightsSha256);
            Assert.Equal(2, outcome.Workers.Length);
        }
        lock (log) Assert.Contains(log, l => l.Contains("worker-2 registered"));
    }
}
