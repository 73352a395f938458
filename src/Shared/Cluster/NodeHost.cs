using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Distributed.Shared.Cluster;

/// <summary>
/// A node as a .NET generic host: Akka.Hosting builds its ActorSystem from <see cref="ClusterSettings"/>:
/// the remote endpoint, roles, seed nodes and split-brain resolver as Akka.Remote.Hosting and
/// Akka.Cluster.Hosting typed options; timings, serializer and loggers as HOCON; the TLS setup; Akka's
/// log bridged into Microsoft.Extensions.Logging through <see cref="OneLineLogger"/>. The host lives as long as the ActorSystem: when the system
/// terminates (coordinated shutdown, downing), the host is stopped and disposed.
/// </summary>
public sealed class NodeHost
{
    private NodeHost(IHost host, ActorSystem system) => (Host, System) = (host, system);

    public IHost Host { get; }

    public ActorSystem System { get; }

    public static NodeHost Start(ClusterSettings settings)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IHostLifetime, ProgramOwnedLifetime>();
        var tls = settings.Tls?.ToSetup(); // load certificates first: a bad file is reported before anything starts
        builder.Services.AddAkka(ClusterSettings.SystemName, (akka, _) =>
        {
            akka.AddHocon(settings.HostedFullConfig(), HoconAddMode.Prepend);
            akka.WithRemoting(new RemoteOptions
            {
                HostName = settings.Hostname,
                PublicHostName = settings.PublicHostname ?? settings.Hostname,
                Port = settings.Port,
                // Weights and gradients are one message each over Akka.Remote when the data plane is off:
                // see ClusterSettings.DefaultMaximumFrameSize.
                MaxFrameSize = settings.MaximumFrameSize,
                SendBufferSize = settings.MaximumFrameSize,
                ReceiveBufferSize = settings.MaximumFrameSize,
                EnableSsl = settings.Tls is not null,
            });
            akka.WithClustering(new ClusterOptions
            {
                Roles = [settings.Role],
                SeedNodes = [.. settings.SeedNodes ?? []],
                SplitBrainResolver = new KeepOldestOption { Role = Roles.Coordinator, DownIfAlone = false },
            });
            if (tls is not null) akka.AddSetup(tls);
            akka.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<OneLineLogger>();
            });
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
