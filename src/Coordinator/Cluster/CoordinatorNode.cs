using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Protocol.DataPlane;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>Starts a coordinator node: an ActorSystem in the coordinator role running a <see cref="CoordinatorActor"/> (registered by <see cref="CoordinatorHosting.AddCoordinator"/>).</summary>
public sealed class CoordinatorNode
{
    private readonly IActorRef _actor;

    private CoordinatorNode(ActorSystem system, IActorRef actor, Task<ClusterRunOutcome> outcome)
    {
        System = system;
        _actor = actor;
        Outcome = outcome;
    }

    /// <summary>Asks the run to stop cleanly (see <see cref="CoordinatorActor.StopRequested"/>); <see cref="Outcome"/> then fails with <see cref="ClusterRunInterruptedException"/>.</summary>
    public void Stop(string reason) => _actor.Tell(new CoordinatorActor.StopRequested(reason));

    public ActorSystem System { get; }

    /// <summary>Completes when the run finishes.</summary>
    public Task<ClusterRunOutcome> Outcome { get; }

    /// <summary>The address workers use as their seed node.</summary>
    public string Address => Akka.Cluster.Cluster.Get(System).SelfAddress.ToString();

    /// <summary>
    /// Checks that the model's messages fit the frame size, then starts the node (its own seed when
    /// <see cref="ClusterSettings.SeedNodes"/> is empty) and the coordinator actor.
    /// </summary>
    public static CoordinatorNode Start(ClusterSettings cluster, TrainingRun run, Supervision supervision, RunHooks hooks, ITensorTransport? transport = null)
    {
        var log = hooks.Log;
        CheckFrameSize(run, cluster.MaximumFrameSize, cluster.Peers);
        // A certificate not issued for the coordinator role is refused before anything starts.
        var identity = cluster.Tls is null ? null : CoordinatorIdentity.Load(cluster.Tls);
        transport ??= StartDataPlane(cluster, log);
        var done = new TaskCompletionSource<ClusterRunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = ActorSettings(supervision, hooks, transport, done, cluster.Wire, identity, cluster.Peers, term: 1);
        var system = NodeHost.Start(cluster, akka => akka.AddCoordinator(run, settings)).System;
        if (transport is IDisposable disposable) system.RegisterOnTermination(disposable.Dispose);
        var akkaCluster = Akka.Cluster.Cluster.Get(system);
        if (cluster.SeedNodes is null or { Count: 0 }) akkaCluster.Join(akkaCluster.SelfAddress);
        var actor = Akka.Hosting.ActorRegistry.For(system).Get<CoordinatorActor>();
        // If this node is downed (e.g. the split-brain resolver downs both ends of a link that only
        // some nodes lost), say so instead of waiting forever for a result.
        system.WhenTerminated.ContinueWith(_ => done.TrySetException(new ClusterRunFailedException(
            "this coordinator node was removed from the cluster (downed); continue with --resume from its last checkpoint", run.Step)),
            TaskScheduler.Default);
        return new CoordinatorNode(system, actor, done.Task);
    }

    /// <summary>The coordinator actor's settings for a new run id of the given term.</summary>
    internal static CoordinatorActor.Settings ActorSettings(Supervision supervision, RunHooks hooks, ITensorTransport transport, TaskCompletionSource<ClusterRunOutcome> done,
        TensorWire wire, CoordinatorIdentity? identity, bool peers, long term)
    {
        // Not a modelling choice: the tag only tells runs apart (in logs and on the wire), so it takes no seed.
        string runId = $"{Environment.MachineName}-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(0x10000):x4}";
        return new CoordinatorActor.Settings(runId, supervision.MinWorkers, hooks.Log, transport, done,
            supervision.StepTimeout, supervision.WorkerTimeout, supervision.MaxBadResults, hooks.OnStep, hooks.OnMembers, wire, identity, peers, hooks.CheckpointEvery, term);
    }

    internal static ITensorTransport StartDataPlane(ClusterSettings cluster, Action<string> log)
    {
        if (cluster.DataPort is not { } port) return AkkaRemoteTransport.Instance;
        var server = DataPlaneServer.Start(cluster.Hostname, cluster.PublicHostname ?? cluster.Hostname, port, cluster.Tls, log, cluster.MaximumFrameSize);
        log($"coordinator: tensor data plane on {cluster.PublicHostname ?? cluster.Hostname}:{server.Port}{(cluster.Tls is null ? "" : " (TLS)")}");
        return server;
    }

    /// <summary>A model whose weights do not fit one remote message would make every step hang: refuse it up front.</summary>
    public static void CheckFrameSize(int parameterCount, int maximumFrameSize) => CheckFrameSize(parameterCount, 0, maximumFrameSize);

    /// <summary>
    /// As above for a run: under the peer exchange a replica that joins (or rejoins) is sent the
    /// weights with the optimizer's state in one message (Adam: 3 values per parameter), which an
    /// undersized frame would drop without a word, leaving the step to hang.
    /// </summary>
    public static void CheckFrameSize(TrainingRun run, int maximumFrameSize, bool peers) =>
        CheckFrameSize(run.Model.ParameterCount, peers ? StateSlots(run.Options.Optimizer) * (long)run.Model.ParameterCount : 0, maximumFrameSize);

    // Values per parameter of the optimizer's state: Adam's two moments, SGD's momentum buffer (its
    // slots are made at the first step, so they are counted from the kind, not from the optimizer).
    private static int StateSlots(string optimizer) => optimizer == OptimizerNames.Adam ? 2 : 1;

    private static void CheckFrameSize(int parameterCount, long stateValues, int maximumFrameSize)
    {
        long needed = ClusterSettings.MessageBytesFor(parameterCount) + 4 * stateValues;
        if (needed > maximumFrameSize)
            throw new ClusterConfigurationException(
                $"the model has {parameterCount:N0} parameters, so its {(stateValues > 0 ? "weights with the optimizer's state (what a replica is sent under --exchange peers)" : "weight and gradient messages")} need {needed:N0} bytes, " +
                $"more than the remote frame size of {maximumFrameSize:N0} bytes (akka.remote.dot-netty.tcp.maximum-frame-size). " +
                $"Use a smaller model or raise --frame-size to at least {needed}.");
    }
}

/// <summary>How the coordinator watches over its workers.</summary>
/// <param name="MinWorkers">Workers to wait for before training starts.</param>
/// <param name="StepTimeout">A worker silent this long within a step loses its shards to the others.</param>
/// <param name="WorkerTimeout">How long to wait with too few workers (at the start) or none (mid-run) before giving up.</param>
/// <param name="MaxBadResults">Bad results after which a worker is excluded from the run.</param>
public sealed record Supervision(int MinWorkers, TimeSpan StepTimeout, TimeSpan WorkerTimeout, int MaxBadResults = 3)
{
    public static readonly TimeSpan DefaultStepTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultWorkerTimeout = TimeSpan.FromSeconds(60);

    public static Supervision For(int minWorkers) => new(minWorkers, DefaultStepTimeout, DefaultWorkerTimeout);
}

/// <summary>A cluster set-up that cannot work; the message says why and what to change.</summary>
public sealed class ClusterConfigurationException(string message) : Exception(message);
