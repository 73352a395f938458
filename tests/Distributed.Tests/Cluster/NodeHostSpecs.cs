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
            Assert.Equal(TimeSpan.FromSeconds(4), c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
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

    [Fact]
    public async Task The_nodes_should_register_their_actors_where_the_registry_finds_them_by_type()
    {
        var data = TestData.Subset(64, 10);
        var run = new Distributed.Shared.Training.TrainingRun(new() { Epochs = 1, BatchSize = 64, Hidden = [8], TrainLimit = 64, TestLimit = 10 }, data);
        var coordinator = Distributed.Coordinator.Cluster.CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator),
            run, new Distributed.Coordinator.Cluster.Supervision(1, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30)), Distributed.Coordinator.Cluster.RunHooks.Silent);
        var worker = Distributed.Worker.WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [coordinator.Address]),
            new Distributed.Worker.WorkerActor.Settings("w1", data.Train, 1, _ => { }));
        try
        {
            var registered = Akka.Hosting.ActorRegistry.For(coordinator.System).Get<Distributed.Coordinator.Cluster.CoordinatorActor>();
            Assert.Equal($"/user/{ActorNames.Coordinator}", registered.Path.ToStringWithoutAddress());
            var workerActor = Akka.Hosting.ActorRegistry.For(worker).Get<Distributed.Worker.WorkerActor>();
            Assert.Equal($"/user/{ActorNames.Worker}", workerActor.Path.ToStringWithoutAddress());
            // Registered, and the very actors that train: the run finishes with the single-process hash.
            var outcome = await coordinator.Outcome.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(new Distributed.Coordinator.Training.LocalTrainer(run.Options, data, _ => { }).Run().FinalWeightsSha256, outcome.Result.FinalWeightsSha256);
        }
        finally
        {
            await Task.WhenAll(worker.Terminate(), coordinator.System.Terminate());
        }
    }


    [Fact]
    public async Task The_health_endpoint_should_listen_on_the_nodes_hostname_only()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        int port = FreePorts.One();
        var node = new ClusterSettings(Roles.Coordinator, Hostname: "127.0.0.1", HealthPort: port).CreateSystem();
        try
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/health/live")).StatusCode);
            // 127.0.0.2 is this machine too; a listener on every interface would answer there.
            await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.2:{port}/health/live"));
        }
        finally
        {
            await node.Terminate();
        }
    }

    [Fact]
    public async Task The_health_endpoint_should_say_live_at_once_and_ready_only_once_the_node_is_up()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        // A worker whose seed does not answer: alive, but not ready.
        int workerPort = FreePorts.One();
        var worker = new ClusterSettings(Roles.Worker, SeedNodes: ["akka.tcp://distributed@127.0.0.1:1"], HealthPort: workerPort).CreateSystem();
        int coordinatorPort = FreePorts.One();
        var coordinator = new ClusterSettings(Roles.Coordinator, HealthPort: coordinatorPort).CreateSystem();
        try
        {
            var live = await http.GetAsync($"http://127.0.0.1:{workerPort}/health/live");
            Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
            var notReady = await http.GetAsync($"http://127.0.0.1:{workerPort}/health/ready");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Contains("status", await notReady.Content.ReadAsStringAsync());
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{workerPort}/health/other")).StatusCode);

            // A node that joins itself (as the coordinator does) becomes ready.
            var cluster = Akka.Cluster.Cluster.Get(coordinator);
            cluster.Join(cluster.SelfAddress);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            System.Net.HttpStatusCode ready;
            do
            {
                ready = (await http.GetAsync($"http://127.0.0.1:{coordinatorPort}/health/ready")).StatusCode;
                if (ready != System.Net.HttpStatusCode.OK) await Task.Delay(100);
            } while (ready != System.Net.HttpStatusCode.OK && DateTime.UtcNow < deadline);
            Assert.Equal(System.Net.HttpStatusCode.OK, ready);
        }
        finally
        {
            await worker.Terminate();
            await coordinator.Terminate();
        }
        // Once the system has stopped, the endpoint is gone.
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{workerPort}/health/live"));
    }
}
