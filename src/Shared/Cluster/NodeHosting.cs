using Akka.Actor.Setup;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace Distributed.Shared.Cluster;

/// <summary>
/// The Akka.Hosting extension every node, and every actor spec, builds its ActorSystem with: the
/// remote endpoint, roles, seed nodes and split-brain resolver as typed options; timings, serializer
/// and untrusted mode as HOCON (<see cref="ClusterSettings.Hocon"/>); the TLS setup; Akka's log
/// through <see cref="OneLineLogger"/>. The actors come from <c>AddCoordinator</c> / <c>AddWorker</c>.
/// </summary>
public static class NodeHosting
{
    /// <param name="tls">The loaded TLS setup (<see cref="Security.TlsSettings.ToSetup"/>), or null for plain TCP.</param>
    public static AkkaConfigurationBuilder WithNode(this AkkaConfigurationBuilder akka, ClusterSettings settings, Setup? tls = null)
    {
        akka.AddHocon(settings.FullHocon(), HoconAddMode.Prepend);
        akka.WithRemoting(new RemoteOptions
        {
            HostName = settings.Hostname,
            PublicHostName = settings.PublicHostname ?? settings.Hostname,
            Port = settings.Port,
            // Weights and gradients are one message each over Akka.Remote when the data plane is off:
            // see MessageLimits.DefaultMaximumFrameSize.
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
        return akka;
    }
}
