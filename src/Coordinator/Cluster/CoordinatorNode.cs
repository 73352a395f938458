using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>Starts a coordinator node: an ActorSystem in the coordinator role running a <see cref="CoordinatorActor"/> named "coordinator".</summary>
public sealed class CoordinatorNode
{
    private CoordinatorNode(ActorSystem system, Task<ClusterRunOutcome> outcome)
    {
        System = system;
        Outcome = outcome;
    }

    public ActorSystem System { get; }

    /// <summary>Completes when the run finishes.</summary>
    public Task<ClusterRunOutcome> Outcome { get; }

    /// <summary>The address workers use as their seed node.</summary>
    public string Address => Akka.Cluster.Cluster.Get(System).SelfAddress.ToString();

    /// <summary>
    /// Checks that the model's messages fit the frame size, then starts the node (its own seed when
    /// <see cref="ClusterSettings.SeedNodes"/> is empty) and the coordinator actor.
    /// </summary>
    public static CoordinatorNode Start(ClusterSettings cluster, TrainingRun run, int minWorkers, Action<string> log, ITensorTransport? transport = null)
    {
        CheckFrameSize(run.Model.ParameterCount, cluster.MaximumFrameSize);
        var system = ActorSystem.Create(ClusterSettings.SystemName, cluster.ToConfig());
        var akkaCluster = Akka.Cluster.Cluster.Get(system);
        if (cluster.SeedNodes is null or { Count: 0 }) akkaCluster.Join(akkaCluster.SelfAddress);
        var done = new TaskCompletionSource<ClusterRunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        string runId = $"{Environment.MachineName}-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(0x10000):x4}";
        var settings = new CoordinatorActor.Settings(runId, minWorkers, log, transport ?? InlineTensorTransport.Instance, done);
        system.ActorOf(CoordinatorActor.Props(run, settings), "coordinator");
        return new CoordinatorNode(system, done.Task);
    }

    /// <summary>A model whose weights do not fit one remote message would make every step hang: refuse it up front.</summary>
    public static void CheckFrameSize(int parameterCount, int maximumFrameSize)
    {
        long needed = ClusterSettings.MessageBytesFor(parameterCount);
        if (needed > maximumFrameSize)
            throw new ClusterConfigurationException(
                $"the model has {parameterCount:N0} parameters, so its weight and gradient messages need {needed:N0} bytes, " +
                $"more than the remote frame size of {maximumFrameSize:N0} bytes (akka.remote.dot-netty.tcp.maximum-frame-size). " +
                $"Use a smaller model or raise --frame-size to at least {needed}.");
    }
}

/// <summary>A cluster set-up that cannot work; the message says why and what to change.</summary>
public sealed class ClusterConfigurationException(string message) : Exception(message);
