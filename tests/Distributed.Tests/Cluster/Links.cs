using Akka.Actor;
using Akka.Remote;
using Akka.Remote.Transport;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Cuts and restores links between in-process nodes with Akka.Remote's throttler transport adapter
/// (nodes started with <see cref="Throttler"/> in their HOCON): a blackholed link drops everything
/// both ways, as a partition does.
/// </summary>
public static class Links
{
    public const string Throttler = "akka.remote.dot-netty.tcp.applied-adapters = [trttl]";

    public static void Cut(ActorSystem a, ActorSystem b) => Throttle(a, b, Blackhole.Instance);

    public static void Heal(ActorSystem a, ActorSystem b) => Throttle(a, b, Unthrottled.Instance);

    /// <summary>Cuts every link of <paramref name="node"/> to <paramref name="others"/>: seen from them, it died.</summary>
    public static void Isolate(ActorSystem node, IEnumerable<ActorSystem> others)
    {
        foreach (var other in others) Cut(node, other);
    }

    /// <summary>Sets both directions of the link between two nodes (blackholed or restored).</summary>
    private static void Throttle(ActorSystem a, ActorSystem b, ThrottleMode mode)
    {
        foreach (var (from, to) in new[] { (a, b), (b, a) })
        {
            var transport = ((RemoteActorRefProvider)((ExtendedActorSystem)from).Provider).Transport;
            var target = Akka.Cluster.Cluster.Get(to).SelfAddress;
            var command = transport.ManagementCommand(new SetThrottle(target, ThrottleTransportAdapter.Direction.Both, mode));
            Assert.True(command.Wait(TimeSpan.FromSeconds(10)) && command.Result, $"could not set {mode} towards {target}");
        }
    }
}
