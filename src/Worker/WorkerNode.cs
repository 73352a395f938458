using Akka.Actor;
using Distributed.Shared.Cluster;

namespace Distributed.Worker;

/// <summary>Starts a worker node: an ActorSystem in the worker role with one <see cref="WorkerActor"/> named "worker".</summary>
public static class WorkerNode
{
    public static ActorSystem Start(ClusterSettings cluster, WorkerActor.Settings settings)
    {
        if (cluster.Role != Roles.Worker) throw new ArgumentException($"A worker node has role {Roles.Worker}, not {cluster.Role}.");
        var system = cluster.CreateSystem();
        system.ActorOf(WorkerActor.Props(settings), "worker");
        return system;
    }
}
