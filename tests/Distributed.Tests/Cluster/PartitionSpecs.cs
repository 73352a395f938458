using Akka.Actor;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Distributed.Worker;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Network partitions, made by blackholing every link that crosses the partition (<see cref="Links"/>): the coordinator's side keeps training and ends with the
/// undisturbed hash; the workers cut off from it are downed.
/// </summary>
public class PartitionSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 1280, TestLimit = 100 };

    private static ActorSystem Worker(string seed, string name, List<string> log, TimeSpan? idle = null) =>
        WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [seed], ExtraHocon: Links.Throttler),
            new WorkerActor.Settings(name, TestData.Subset(1280, 100).Train, 1, l => { lock (log) log.Add(l); }, AkkaRemoteTransport.Instance, Idle: idle));

    private static bool Logged(List<string> log, string text)
    {
        lock (log) return log.Any(l => l.Contains(text));
    }

    /// <param name="workerIdleSeconds">
    /// 1: the worker, idle, registers again by itself (whichever comes first counts); 600: only the
    /// coordinator's re-admission on ReachableMember can bring it back in time.
    /// </param>
    [Theory]
    [InlineData(1)]
    [InlineData(600)]
    public async Task After_a_short_network_blip_the_dropped_worker_should_be_readmitted_and_the_run_finish_exactly(int workerIdleSeconds)
    {
        var data = TestData.Subset(1280, 100);
        string undisturbed = new LocalTrainer(Options, data, _ => { }).Run().FinalWeightsSha256;
        var log = new List<string>();
        ActorSystem? worker = null;
        CoordinatorNode? coordinator = null;
        coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, ExtraHocon: Links.Throttler), new TrainingRun(Options, data),
            Supervision.For(1), new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (run, epoch) =>
            {
                if (run.Step != 5) return;
                // The blip lasts until the coordinator has dropped the worker as unreachable (about 2.7 s),
                // and ends well before the resolver would down anyone (4 s of stable unreachability more) or the coordinator would down the worker (2.5 s).
                Links.Cut(coordinator!.System, worker!);
                _ = Task.Run(async () =>
                {
                    while (!Logged(log, "is unreachable")) await Task.Delay(50);
                    Links.Heal(coordinator.System, worker!);
                });
            } });
        worker = Worker(coordinator.Address, "worker-1", log, idle: TimeSpan.FromSeconds(workerIdleSeconds));
        try
        {
            var outcome = await coordinator.Outcome.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(undisturbed, outcome.Result.FinalWeightsSha256);
            lock (log)
            {
                Assert.True(log.Any(l => l.Contains("worker worker-1") && l.Contains("is unreachable")), string.Join("\n", log));
                var after = log.Skip(log.FindIndex(x => x.Contains("is unreachable"))).ToList();
                bool readmitted = after.Any(l => l.Contains("worker worker-1") && l.Contains("is reachable again; re-admitted"));
                Assert.True(readmitted || (workerIdleSeconds < 60 && after.Any(l => l.Contains("worker worker-1 registered"))), string.Join("\n", log));
            }
        }
        finally
        {
            await Task.WhenAll(new[] { worker, coordinator.System }.Select(s => s.Terminate()));
        }
    }

    /// <summary>
    /// Only the link between the coordinator and worker-1 breaks; worker-2 still reaches both. The
    /// resolver would down both ends of such a link (indirectly connected nodes), the coordinator
    /// among them: the coordinator downs the worker first, and trains on with worker-2.
    /// </summary>
    [Fact]
    public async Task A_broken_link_between_the_coordinator_and_one_worker_should_lose_that_worker_not_the_coordinator()
    {
        var data = TestData.Subset(1280, 100);
        // Long enough to outlast the resolver's decision (unreachable after ~2.7 s, then 3 s stable).
        var options = Options with { Epochs = 400 };
        string undisturbed = new LocalTrainer(options, data, _ => { }).Run().FinalWeightsSha256;
        var log = new List<string>();
        var systems = new List<ActorSystem>();
        CoordinatorNode? coordinator = null;
        var cut = System.Diagnostics.Stopwatch.StartNew();
        coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, ExtraHocon: Links.Throttler), new TrainingRun(options, data),
            Supervision.For(2), new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (run, _) =>
            {
                if (run.Step != 5) return;
                Links.Cut(coordinator!.System, systems[0]);
                cut.Restart();
            } });
        systems.Add(Worker(coordinator.Address, "worker-1", log));
        systems.Add(Worker(coordinator.Address, "worker-2", log));
        try
        {
            var outcome = await coordinator.Outcome.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(cut.Elapsed > TimeSpan.FromSeconds(8), $"the run ended {cut.Elapsed.TotalSeconds:F1} s after the cut: too soon to show the resolver's decision");
            Assert.Equal(undisturbed, outcome.Result.FinalWeightsSha256);
            await systems[0].WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(coordinator.System.WhenTerminated.IsCompleted);
            Assert.False(systems[1].WhenTerminated.IsCompleted);
            lock (log) Assert.Contains(log, l => l.Contains("downing it so that the link's other end") && l.Contains(Akka.Cluster.Cluster.Get(systems[0]).SelfAddress.ToString()));
        }
        finally
        {
            await Task.WhenAll(systems.Append(coordinator.System).Select(s => s.Terminate()));
        }
    }

    [Theory]
    [InlineData(false)] // {coordinator, worker-1} | {worker-2}
    [InlineData(true)]  // {coordinator} | {worker-1, worker-2}, and a fresh worker-3 joins the coordinator
    public async Task The_coordinators_side_of_a_partition_should_keep_training(bool coordinatorAlone)
    {
        var data = TestData.Subset(1280, 100);
        string undisturbed = new LocalTrainer(Options, data, _ => { }).Run().FinalWeightsSha256;
        var log = new List<string>();
        var systems = new List<ActorSystem>();
        CoordinatorNode? coordinator = null;
        coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, ExtraHocon: Links.Throttler), new TrainingRun(Options, data),
            Supervision.For(2), new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (run, _) =>
            {
                if (run.Step != 5) return;
                if (coordinatorAlone)
                {
                    Links.Cut(coordinator!.System, systems[0]);
                    Links.Cut(coordinator.System, systems[1]);
                    systems.Add(Worker(coordinator.Address, "worker-3", log));
                }
                else
                {
                    Links.Cut(coordinator!.System, systems[1]);
                    Links.Cut(systems[0], systems[1]);
                }
            } });
        systems.Add(Worker(coordinator.Address, "worker-1", log));
        systems.Add(Worker(coordinator.Address, "worker-2", log));
        try
        {
            var outcome = await coordinator.Outcome.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(undisturbed, outcome.Result.FinalWeightsSha256);
            // The cut-off side is downed by the split-brain resolver and shuts itself down.
            var cutOff = coordinatorAlone ? systems.Take(2) : systems.Skip(1).Take(1);
            await Task.WhenAll(cutOff.Select(s => s.WhenTerminated)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(coordinator.System.WhenTerminated.IsCompleted);
            lock (log) Assert.Contains(log, l => l.Contains("is unreachable"));
        }
        finally
        {
            await Task.WhenAll(systems.Append(coordinator.System).Select(s => s.Terminate()));
        }
    }
}
