using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cluster;

/// <summary>A cluster run that could not finish; the message says why and at which step.</summary>
public sealed class ClusterRunFailedException(string reason, long step) : Exception($"the cluster run stopped at step {step}: {reason}.")
{
    public long Step { get; } = step;
}

/// <summary>A cluster run stopped on request (a signal) at a step boundary; its state can be checkpointed and resumed.</summary>
public sealed class ClusterRunInterruptedException(string reason, long step) : Exception($"the cluster run was stopped at step {step}: {reason}.")
{
    public long Step { get; } = step;
}

/// <summary>A standby coordinator's wait ended without a takeover: the active coordinator finished or stopped the run.</summary>
public sealed class StandbyEndedException(string runId, bool finished, string reason)
    : Exception($"the active coordinator {(finished ? "finished" : "stopped")} run {runId} ({reason}); this standby did not take it over")
{
    public bool Finished { get; } = finished;
}

/// <summary>A cluster run's result with the per-worker figures, the workers named stragglers (in order) and its last steps as a trace (trace.json).</summary>
public sealed record ClusterRunOutcome(TrainingResult Result, Shared.Layers.Sequential<float> Model, object[] Workers, StepBreakdown Breakdown,
    IReadOnlyList<Reporting.WorkerEpoch> WorkerEpochs, IReadOnlyList<Shared.Observation.Straggler>? Stragglers = null, string? Trace = null)
{
    /// <summary>What metrics.json adds for a cluster run.</summary>
    public object Extra => new
    {
        Workers,
        StepBreakdown = Breakdown,
        Stragglers = (Stragglers ?? []).Select(s => new
        {
            s.Worker, s.Step, LatencyRatio = s.Ratio, s.LatencyMs, s.PeersLatencyMs, s.ComputeMsPerShard, s.PeersComputeMsPerShard, s.ComputeBound,
        }).ToArray(),
    };
}

/// <summary>
/// Where a cluster step's time goes, per step on average. Serialization figures are process-wide:
/// in the single-machine simulation they cover every node; in a multi-process run only the
/// coordinator's side (bytes sent and received per step: the load on its link). Workers' compute is
/// in the per-worker figures; each worker logs its own bytes per step when the run ends.
/// </summary>
public sealed record StepBreakdown(double StepMs, double ReduceAndOptimizerMs, double SerializeMs, double DeserializeMs, double BytesSerialized, double BytesReceived);
