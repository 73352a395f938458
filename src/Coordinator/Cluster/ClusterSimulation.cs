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
    private readonly Action<string> _log;
    private readonly int _frameSize;
    private readonly int _threadsPerWorker;
    private readonly TlsSettings? _tls;
    private readonly int? _dataPort;
    private int _named;

    private SimulatedCluster(CoordinatorNode coordinator, MnistData data, Action<string> log, int frameSize, int threadsPerWorker, TlsSettings? tls, int? dataPort)
    {
        (Coordinator, _data, _log, _frameSize, _threadsPerWorker, _tls, _dataPort) = (coordinator, data, log, frameSize, threadsPerWorker, tls, dataPort);
    }

    public CoordinatorNode Coordinator { get; }

    public IReadOnlyList<ActorSystem> Workers => _workers;

    public static SimulatedCluster Start(TrainingRun run, int workers, Action<string> log, Supervision supervision,
        int maximumFrameSize = ClusterSettings.DefaultMaximumFrameSize, Action<TrainingRun, EpochMetrics?>? onStep = null, TlsSettings? tls = null,
        Action<IReadOnlyList<Progress.MemberRow>>? onMembers = null, bool dataPlane = true, TensorWire wire = TensorWire.Float32)
    {
        int? dataPort = dataPlane ? 0 : null;
        var coordinator = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, MaximumFrameSize: maximumFrameSize, Tls: tls, DataPort: dataPort, Wire: wire), run, supervision, log,
            onStep: onStep, onMembers: onMembers);
        // The simulation's nodes share this machine's cores.
        var cluster = new SimulatedCluster(coordinator, run.Data, log, maximumFrameSize, Math.Max(1, Environment.ProcessorCount / Math.Max(1, workers)), tls, dataPort);
        for (int i = 0; i < workers; i++) cluster.AddWorker();
        return cluster;
    }

    public ActorSystem AddWorker()
    {
        var cluster = new ClusterSettings(Roles.Worker, SeedNodes: [Coordinator.Address], MaximumFrameSize: _frameSize, Tls: _tls, DataPort: _dataPort);
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
    public static async Task<ClusterRunOutcome> RunAsync(TrainingOptions options, MnistData data, int workers, Action<string> log,
        int maximumFrameSize = ClusterSettings.DefaultMaximumFrameSize, TimeSpan? timeout = null, Supervision? supervision = null,
        Action<TrainingRun, EpochMetrics?>? onStep = null, TrainingRun? resumeFrom = null, TlsSettings? tls = null,
        Action<IReadOnlyList<Progress.MemberRow>>? onMembers = null, bool dataPlane = true, TensorWire wire = TensorWire.Float32,
        Shared.Lifetime.StopSignal? stop = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        await using var cluster = SimulatedCluster.Start(resumeFrom ?? new TrainingRun(options, data), workers, log,
            supervision ?? Supervision.For(workers), maximumFrameSize, onStep, tls, onMembers, dataPlane, wire);
        using var stopping = stop?.Token.Register(() => cluster.Coordinator.Stop($"interrupted ({stop.Name})"));
        return await cluster.WaitAsync(timeout);
    }
}
