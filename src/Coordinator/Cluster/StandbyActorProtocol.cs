using Distributed.Shared.Protocol;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>The standby actor's settings (its messages from the active coordinator are in <see cref="StandbyProtocol"/>).</summary>
public sealed partial class StandbyActor
{
    /// <summary>What a standby does with what it holds.</summary>
    /// <param name="Prepare">Called with each newly complete snapshot (the node loads the data it names ahead of a takeover).</param>
    /// <param name="TakeOver">
    /// Starts the coordinator actor for the run in the snapshot, as the given term; returns null, or
    /// why it cannot (the standby then stays one).
    /// </param>
    /// <param name="Ended">The active coordinator ended the run (finished or stopped): the standby's process ends too.</param>
    /// <param name="Lead">
    /// <c>coordinator --elect</c>: starts this node's own run (term 1) when it comes up as the oldest
    /// coordinator-role member; returns null, or why it cannot. Null: a plain standby, which never leads.
    /// </param>
    public sealed record Settings(Action<string> Log, Action<Checkpoint> Prepare, Func<Snapshot, string?> TakeOver, Action<StandbyProtocol.RunOver> Ended,
        Func<string?>? Lead = null);

    /// <summary>A complete snapshot: the run's state at the start of a step, with the term and exchange of the coordinator that sent it.</summary>
    public sealed record Snapshot(string RunId, long Term, Checkpoint State, TensorWire Wire, bool Peers, Akka.Actor.Address From);

    /// <summary>Sent to itself once a loss of the active coordinator has settled (<see cref="SettleTime"/>).</summary>
    private sealed record Decide(Akka.Actor.Address Coordinator, string How);
}
