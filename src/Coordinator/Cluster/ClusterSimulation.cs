using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Distributed.Worker;
using Distributed.Shared.Security;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// A cluster on one machine: a coordinator node and worker nodes, each its own ActorSystem in this
/// process, talking over real Akka.Remote TCP on 127.0.0.1 with ports chosen by the OS. Workers can
/// be added and stopped while it runs (fault-tolerance tests do).
/// </summary>
public sealed class SimulatedCluster : IAsyncDisposable
{
    private readonly List<ActorSystem> _workers = [];
    private readonly MnistData _data;
    private readonly SimulationSpec _spec;
    private readonly Action<string> _log;
    private readonly int _threadsPerWorker;
    private int _named;

    private SimulatedCluster(CoordinatorNode coordinator, MnistData data, SimulationSpec spec, Action<string> log)
    {
        (Coordinator, _data, _spec, _log) = (coordinator, data, spec, log);
        // The simulation's nodes share this machine's cores.
        _threadsPerWorker = Math.Max(1, Environment.ProcessorCount / Math.Max(1, spec.Workers));
    }

    public CoordinatorNode Coordinator { get; }

    public IReadOnlyList<ActorSystem> Workers => _workers;

    public static SimulatedCluster Start(TrainingRun run, SimulationSpec spec, RunHooks hooks)
    {
        var coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, MaximumFrameSize: spec.FrameSize, Tls: spec.Tls, DataPort: DataPort(spec), Wire: spec.Wire, Peers: spec.Peers),
            run, spec.Supervision, hooks);
        var cluster = new SimulatedCluster(coordinator, run.Data, spec, hooks.Log);
        for (int i = 0; i < spec.Workers; i++) cluster.AddWorker();
        return cluster;
    }

    private static int? DataPort(SimulationSpec spec) => spec.DataPlane ? 0 : null;

    public ActorSystem AddWorker()
    {
        var cluster = new ClusterSettings(Roles.Worker, SeedNodes: [Coordinator.Address], MaximumFrameSize: _spec.FrameSize, Tls: _spec.Tls, DataPort: DataPort(_spec));
        string name = $"worker-{Interlocked.Increment(ref _named)}";
        var system = WorkerNode.Start(cluster, new WorkerActor.Settings(name, _data.Train, _threadsPerWorker, _log));
        lock (_workers) _workers.Add(system);
        return system;
    }

    /// <summary>Shuts a worker node down (it leaves the cluster, as a stopped process would after a SIGTERM).</summary>
    public Task StopWorker(ActorSystem worker) => CoordinatedShutdown.Get(worker).Run(CoordinatedShutdown.ClrExitReason.Instance);

    public async Task<ClusterRunOutcome> WaitAsync(TimeSpan? timeout = null)
    {
        var finished = await Task.WhenAny(Coordinator.Outcome, Task.Delay(timeout ?? Timeout.InfiniteTimeSpan));
        if (finished != Coordinator.Outcome) throw new TimeoutException($"The cluster run did not finish within {timeout}.");
        return await Coordinator.Outcome;
    }

    /// <summary>Workers leave first, then the coordinator, so nobody logs its peers vanishing mid-conversation.</summary>
    public async ValueTask DisposeAsync()
    {
        ActorSystem[] workers;
        lock (_workers) workers = [.. _workers];
        await Task.WhenAll(workers.Select(s => CoordinatedShutdown.Get(s).Run(CoordinatedShutdown.ClrExitReason.Instance)));
        await CoordinatedShutdown.Get(Coordinator.System).Run(CoordinatedShutdown.ClrExitReason.Instance);
    }
}

/// <summary>Runs a whole training job on a <see cref="SimulatedCluster"/>.</summary>
public static class ClusterSimulation
{
    /// <summary>Trains <paramref name="run"/> (fresh or resumed) on a cluster of <paramref name="spec"/>'s shape until it ends.</summary>
    public static async Task<ClusterRunOutcome> RunAsync(TrainingRun run, SimulationSpec spec, RunHooks hooks, TimeSpan? timeout = null,
        Shared.Lifetime.StopSignal? stop = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spec.Workers);
        await using var cluster = SimulatedCluster.Start(run, spec, hooks);
        using var stopping = stop?.Token.Register(() => cluster.Coordinator.Stop($"interrupted ({stop.Name})"));
        return await cluster.WaitAsync(timeout);
    }
}
