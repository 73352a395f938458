using Akka.Actor;

namespace Distributed.Shared.Cluster;

/// <summary>
/// The user guardian's supervision: an actor receiving <see cref="Kill"/> is resumed, not stopped.
/// Akka.Remote's untrusted mode drops a remote PoisonPill, but Akka.NET does not mark Kill as
/// possibly harmful, so any peer could stop the coordinator with one. No code of ours sends Kill;
/// every other failure is supervised as by default.
/// </summary>
public sealed class KillRefusingGuardianStrategy : SupervisorStrategyConfigurator
{
    public override SupervisorStrategy Create() =>
        new OneForOneStrategy(e => e is ActorKilledException ? Directive.Resume : SupervisorStrategy.DefaultDecider.Decide(e));
}
