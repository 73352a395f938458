using Akka.Hosting;
using Distributed.Shared.Cluster;

namespace Distributed.Worker;

/// <summary>Registers the worker actor with Akka.Hosting: created under <see cref="ActorNames.Worker"/> and found through the ActorRegistry as <see cref="WorkerActor"/>.</summary>
public static class WorkerHosting
{
    public static AkkaConfigurationBuilder AddWorker(this AkkaConfigurationBuilder akka, WorkerActor.Settings settings) =>
        akka.WithActors((system, registry) =>
            registry.Register<WorkerActor>(system.ActorOf(WorkerActor.Props(settings), ActorNames.Worker)));
}
