using Akka.Hosting;
using Distributed.Shared.Cluster;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>Registers the coordinator actor with Akka.Hosting: created under <see cref="ActorNames.Coordinator"/> and found through the ActorRegistry as <see cref="CoordinatorActor"/>.</summary>
public static class CoordinatorHosting
{
    public static AkkaConfigurationBuilder AddCoordinator(this AkkaConfigurationBuilder akka, TrainingRun run, CoordinatorActor.Settings settings) =>
        akka.WithActors((system, registry) =>
            registry.Register<CoordinatorActor>(system.ActorOf(CoordinatorActor.Props(run, settings), ActorNames.Coordinator)));
}
