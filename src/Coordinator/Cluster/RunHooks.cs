using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// Where a cluster run reports, set once by the composition root (the command line, or a spec):
/// log lines, every completed step (checkpointing hooks in here) and the member rows the live display shows.
/// </summary>
public sealed record RunHooks(Action<string> Log)
{
    /// <summary>Called on the coordinator's thread after every completed step, with the epoch's metrics at an epoch's end.</summary>
    public Action<TrainingRun, EpochMetrics?>? OnStep { get; init; }

    /// <summary>Every how many steps <see cref="OnStep"/> checkpoints (0: epoch ends only): the peer exchange's coordinator takes the replicas' state then.</summary>
    public int CheckpointEvery { get; init; }

    public Action<IReadOnlyList<Progress.MemberRow>>? OnMembers { get; init; }

    /// <summary>Nothing reported (specs that look only at the outcome).</summary>
    public static RunHooks Silent { get; } = new(_ => { });
}
