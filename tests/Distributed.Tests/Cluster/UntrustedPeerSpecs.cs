using Akka.Actor;
using Akka.Configuration;
using Distributed.Shared.Cluster;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A peer that speaks Akka but not our protocol: remote PoisonPill and Kill, by selection or by
/// reference, reach no actor of a node (Akka.Remote's untrusted mode), while protocol messages to
/// the coordinator's path still do.
/// </summary>
public sealed class UntrustedPeerSpecs() : Akka.TestKit.Xunit2.TestKit(new ClusterSettings(Roles.Coordinator).CreateSystem()), IDisposable
{
    private readonly ActorSystem _attacker = ActorSystem.Create("attacker", ConfigurationFactory.ParseString("""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.loglevel = OFF
        """));

    void IDisposable.Dispose()
    {
        _attacker.Terminate().Wait(TimeSpan.FromSeconds(10));
        Shutdown();
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo() => Receive<string>(s => Sender.Tell("echo " + s));
    }

    [Fact]
    public async Task Remote_PoisonPill_and_Kill_should_not_stop_the_coordinator()
    {
        var coordinator = Sys.ActorOf(Props.Create(() => new Echo()), "coordinator");
        Watch(coordinator);
        var address = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
        var selection = _attacker.ActorSelection(new RootActorPath(address) / "user" / "coordinator");

        // Protocol traffic gets through: the path is reachable and answers.
        var reply = await selection.Ask<string>("hello", TimeSpan.FromSeconds(10));
        Assert.Equal("echo hello", reply);
        var remoteRef = await selection.ResolveOne(TimeSpan.FromSeconds(10));

        selection.Tell(PoisonPill.Instance);
        remoteRef.Tell(PoisonPill.Instance);
        remoteRef.Tell(Kill.Instance);
        selection.Tell(Kill.Instance);
        _attacker.ActorSelection(new RootActorPath(address) / "user" / "*").Tell(PoisonPill.Instance);

        ExpectNoMsg(TimeSpan.FromSeconds(1.5));
        Assert.Equal("echo still here", await selection.Ask<string>("still here", TimeSpan.FromSeconds(10)));
    }
}
