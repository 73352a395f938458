using Akka.Actor;
using Distributed.Shared.Cluster;

namespace Distributed.Tests.Cluster;

/// <summary>A node's effective Akka configuration, as the generic host builds it from typed options and HOCON.</summary>
public class NodeHostSpecs
{
    [Fact]
    public async Task The_typed_options_and_the_tuned_HOCON_should_both_reach_the_ActorSystem()
    {
        var settings = new ClusterSettings(Roles.Worker, SeedNodes: ["akka.tcp://distributed@127.0.0.1:1"], MaximumFrameSize: 3_000_000,
            PublicHostname: "worker.example");
        var system = settings.CreateSystem();
        try
        {
            var c = system.Settings.Config;
            // Akka.Remote.Hosting and Akka.Cluster.Hosting options
            Assert.Equal("worker.example", c.GetString("akka.remote.dot-netty.tcp.public-hostname"));
            Assert.Equal(3_000_000, c.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
            Assert.Equal(["worker"], c.GetStringList("akka.cluster.roles"));
            Assert.Equal(["akka.tcp://distributed@127.0.0.1:1"], c.GetStringList("akka.cluster.seed-nodes"));
            Assert.Contains("SplitBrainResolverProvider", c.GetString("akka.cluster.downing-provider-class"));
            Assert.Equal("keep-oldest", c.GetString("akka.cluster.split-brain-resolver.active-strategy"));
            Assert.Equal(Roles.Coordinator, c.GetString("akka.cluster.split-brain-resolver.keep-oldest.role"));
            Assert.False(c.GetBoolean("akka.cluster.split-brain-resolver.keep-oldest.down-if-alone"));
            // HOCON for what the options do not cover
            Assert.Equal(TimeSpan.FromSeconds(3), c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
            Assert.Equal(TimeSpan.FromMilliseconds(500), c.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
            Assert.Equal(TimeSpan.FromMilliseconds(200), c.GetTimeSpan("akka.cluster.gossip-interval"));
            Assert.Contains("ProtocolSerializer", c.GetString("akka.actor.serializers.distributed"));
            var cluster = Akka.Cluster.Cluster.Get(system);
            Assert.Equal("worker.example", cluster.SelfAddress.Host);
            Assert.True(cluster.SelfAddress.Port > 0);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
