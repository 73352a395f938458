using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Distributed.Shared.Cluster;

/// <summary>
/// A node as a .NET generic host: Akka.Hosting builds its ActorSystem from <see cref="ClusterSettings"/>
/// through <see cref="NodeHosting.WithNode"/>, plus the actors the caller adds. The host lives as long
/// as the ActorSystem: when the system terminates (coordinated shutdown, downing), the host is
/// stopped and disposed. Optionally serves health endpoints.
/// </summary>
public sealed class NodeHost
{
    private NodeHost(IHost host, ActorSystem system) => (Host, System) = (host, system);

    public IHost Host { get; }

    public ActorSystem System { get; }

    /// <summary>Starts the node; <paramref name="actors"/> adds its actors (AddCoordinator, AddWorker), none for a bare node.</summary>
    public static NodeHost Start(ClusterSettings settings, Action<AkkaConfigurationBuilder>? actors = null)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IHostLifetime, ProgramOwnedLifetime>();
        var tls = settings.Tls?.ToSetup(); // load certificates first: a bad file is reported before anything starts
        builder.Services.AddAkka(ClusterSettings.SystemName, (akka, _) =>
        {
            akka.WithNode(settings, tls);
            actors?.Invoke(akka);
        });
        var host = builder.Build();
        host.Start();
        var system = host.Services.GetRequiredService<ActorSystem>();
        if (settings.HealthPort is { } healthPort)
        {
            var health = HealthEndpoint.Start(system, settings.Hostname, healthPort);
            system.RegisterOnTermination(health.Dispose);
        }
        system.WhenTerminated.ContinueWith(async _ =>
        {
            await host.StopAsync();
            host.Dispose();
        }, TaskScheduler.Default);
        return new NodeHost(host, system);
    }
}
