using Akka.Actor;
using Akka.Hosting;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// A standby coordinator node (<c>coordinator --standby</c> or <c>--elect</c>): a coordinator-role member running a
/// <see cref="StandbyActor"/>, with its own data plane ready. When the standby takes the run over
/// it restores the run from the latest snapshot and starts a <see cref="CoordinatorActor"/> of the
/// next term in the same ActorSystem, under the coordinator's usual name, where workers register.
/// </summary>
public sealed class StandbyNode
{
    private readonly TaskCompletionSource<ClusterRunOutcome> _done;
    private IActorRef? _coordinator;

    private StandbyNode(ActorSystem system, TaskCompletionSource<ClusterRunOutcome> done)
    {
        (System, _done) = (system, done);
    }

    public ActorSystem System { get; }

    /// <summary>Completes when the run this standby took over finishes; fails with <see cref="StandbyEndedException"/> if the active coordinator ended it first.</summary>
    public Task<ClusterRunOutcome> Outcome => _done.Task;

    public string Address => Akka.Cluster.Cluster.Get(System).SelfAddress.ToString();

    /// <summary>Before a takeover the wait just ends (interrupted); after one, the run stops cleanly as any coordinator's does.</summary>
    public void Stop(string reason)
    {
        if (Volatile.Read(ref _coordinator) is { } coordinator) coordinator.Tell(new CoordinatorActor.StopRequested(reason));
        else _done.TrySetException(new ClusterRunInterruptedException(reason, 0));
    }

    /// <param name="restore">The run in a snapshot, on this node's data (throws <see cref="DataFormatException"/> when they do not match).</param>
    /// <param name="prepare">Called with the first snapshot of a run (load its data ahead of a takeover).</param>
    /// <param name="lead">With <c>--elect</c>: this node's own run, led as term 1 if it comes up as the oldest coordinator.</param>
    public static StandbyNode Start(ClusterSettings cluster, Supervision supervision, RunHooks hooks, Func<Checkpoint, TrainingRun> restore, Action<Checkpoint> prepare,
        Func<TrainingRun>? lead = null)
    {
        var identity = cluster.Tls is null ? null : CoordinatorIdentity.Load(cluster.Tls);
        var transport = CoordinatorNode.StartDataPlane(cluster, hooks.Log);
        var done = new TaskCompletionSource<ClusterRunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        StandbyNode? node = null;
        // The run's coordinator, in this node's ActorSystem under the coordinator's usual name.
        void StartCoordinator(ActorSystem system, TrainingRun run, TensorWire wire, bool peers, long term)
        {
            var settings = CoordinatorNode.ActorSettings(supervision, hooks, transport, done, wire, identity, peers, term);
            Volatile.Write(ref node!._coordinator, system.ActorOf(CoordinatorActor.Props(run, settings), ActorNames.Coordinator));
        }
        string? TakeOver(StandbyActor.Snapshot snapshot, ActorSystem system)
        {
            TrainingRun run;
            try
            {
                run = restore(snapshot.State);
                CoordinatorNode.CheckFrameSize(run, cluster.MaximumFrameSize, cluster.Peers);
            }
            catch (Exception e) when (e is DataFormatException or InvalidDataException or ClusterConfigurationException)
            {
                return e.Message;
            }
            StartCoordinator(system, run, snapshot.Wire, snapshot.Peers, snapshot.Term + 1);
            return null;
        }
        string? Lead(ActorSystem system)
        {
            TrainingRun run;
            try
            {
                run = lead!();
                CoordinatorNode.CheckFrameSize(run, cluster.MaximumFrameSize, cluster.Peers);
            }
            catch (Exception e)
            {
                // The command's error handling reports it as it would before any node started.
                done.TrySetException(e);
                return e.Message;
            }
            StartCoordinator(system, run, cluster.Wire, cluster.Peers, term: 1);
            return null;
        }
        ActorSystem? created = null;
        var standby = new StandbyActor.Settings(hooks.Log, prepare, snapshot => TakeOver(snapshot, created!),
            over => done.TrySetException(new StandbyEndedException(over.RunId, over.Finished, over.Reason)),
            lead is null ? null : () => Lead(created!));
        created = NodeHost.Start(cluster, akka => akka.WithActors((system, registry) =>
            registry.Register<StandbyActor>(system.ActorOf(StandbyActor.Props(standby), ActorNames.Standby)))).System;
        if (transport is IDisposable disposable) created.RegisterOnTermination(disposable.Dispose);
        node = new StandbyNode(created, done);
        created.WhenTerminated.ContinueWith(_ => done.TrySetException(new ClusterRunFailedException(
            "this standby coordinator node was removed from the cluster (downed)", 0)), TaskScheduler.Default);
        return node;
    }
}
