using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Distributed.Worker;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// A cluster on one machine: a coordinator node and N worker nodes, each its own ActorSystem in this
/// process, talking over real Akka.Remote TCP on 127.0.0.1 with ports chosen by the OS.
/// </summary>
public static class ClusterSimulation
{
    public static async Task<ClusterRunOutcome> RunAsync(TrainingOptions options, MnistData data, int workers, Action<string> log,
        int maximumFrameSize = ClusterSettings.DefaultMaximumFrameSize, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        var run = new TrainingRun(options, data);
        var coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, MaximumFrameSize: maximumFrameSize), run, workers, log);
        var systems = new List<ActorSystem> { coordinator.System };
        try
        {
            // The simulation's nodes share this machine's cores.
            int threads = Math.Max(1, Environment.ProcessorCount / workers);
            for (int i = 1; i <= workers; i++)
            {
                var cluster = new ClusterSettings(Roles.Worker, SeedNodes: [coordinator.Address], MaximumFrameSize: maximumFrameSize);
                systems.Add(WorkerNode.Start(cluster, new WorkerActor.Settings($"worker-{i}", data.Train, threads, log, InlineTensorTransport.Instance)));
            }
            var finished = await Task.WhenAny(coordinator.Outcome, Task.Delay(timeout ?? Timeout.InfiniteTimeSpan));
            if (finished != coordinator.Outcome) throw new TimeoutException($"The cluster run did not finish within {timeout}.");
            return await coordinator.Outcome;
        }
        finally
        {
            await Task.WhenAll(systems.Select(s => CoordinatedShutdown.Get(s).Run(CoordinatedShutdown.ClrExitReason.Instance)));
        }
    }
}
