using System.Diagnostics;
using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Engine = Distributed.Shared.Training.RunEngine<Akka.Actor.IActorRef>;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// What the coordinator reports about a run, as opposed to what it decides (the engine) or sends
/// (<see cref="StepMessages"/>): per-worker figures, member status rows for the display, per-epoch
/// worker throughput, the step-time breakdown and how long a step took to recover from a lost
/// worker. Fed by the coordinator actor on its own thread; holds no policy.
/// </summary>
public sealed class RunLedger(string selfAddress)
{
    private readonly Dictionary<IActorRef, WorkerStats> _stats = [];
    private readonly Dictionary<Address, string> _status = [];
    private readonly List<Reporting.WorkerEpoch> _workerEpochs = [];
    private double _reduceMilliseconds;
    private long? _disturbedAt;
    private (long Bytes, TimeSpan Serialize, TimeSpan Deserialize) _serializeAtStart;

    public IReadOnlyList<Reporting.WorkerEpoch> WorkerEpochs => _workerEpochs;

    public void Watched(IActorRef worker, string name, int threads) => _stats.TryAdd(worker, new WorkerStats(name, worker, threads));

    public void MemberIs(Address member, string status) => _status[member] = status;

    public void TrainingStarted()
    {
        _serializeAtStart = ProtocolCodec.Totals;
        _readAtStart = ProtocolCodec.BytesRead;
    }

    private long _readAtStart;

    public void StepStarted()
    {
        foreach (var w in _stats.Values) w.OutstandingThisStep = 0;
    }

    /// <summary>Work went to a worker: the first of a step starts its clock.</summary>
    public void Sent(IActorRef worker, int shards)
    {
        var stats = _stats[worker];
        if (stats.OutstandingThisStep == 0)
        {
            stats.SentAt = Stopwatch.GetTimestamp();
            stats.ComputeThisStep = 0;
        }
        stats.OutstandingThisStep += shards;
    }

    public void Credited(Engine.RunCommand.Credit c)
    {
        if (!_stats.TryGetValue(c.Worker, out var stats)) return;
        stats.CountShards(c.Shards, c.ComputeMilliseconds, Stopwatch.GetTimestamp());
        stats.SamplesThisEpoch += c.Samples;
    }

    public void Reduced(double milliseconds)
    {
        _reduceMilliseconds += milliseconds;
        Shared.Diagnostics.TrainingMetrics.Reduced(milliseconds);
    }

    public void Disturbed() => _disturbedAt ??= Stopwatch.GetTimestamp();

    /// <summary>A step completed: the recovery line if a worker was lost during it, and at an epoch's end each worker's throughput.</summary>
    public string? Completed(long step, EpochMetrics? epoch)
    {
        string? recovered = null;
        if (_disturbedAt is { } since)
        {
            recovered = $"coordinator: step {step} completed {Stopwatch.GetElapsedTime(since).TotalMilliseconds:F0} ms after losing a worker during it";
            _disturbedAt = null;
        }
        if (epoch is not null)
            foreach (var w in _stats.Values)
            {
                _workerEpochs.Add(new Reporting.WorkerEpoch(w.Name, epoch.Epoch, w.SamplesThisEpoch, epoch.TrainSeconds > 0 ? w.SamplesThisEpoch / epoch.TrainSeconds : 0));
                w.SamplesThisEpoch = 0;
            }
        return recovered;
    }

    /// <summary>The members as the progress display shows them: this node, then every worker that registered.</summary>
    /// <param name="straggler">Whether a worker (by name) is a straggler now: its status then says so.</param>
    public IReadOnlyList<Progress.MemberRow> Members(Engine engine, Func<IActorRef, string> nodeOf, Func<string, bool>? straggler = null)
    {
        var rows = new List<Progress.MemberRow> { new("coordinator", selfAddress, Roles.Coordinator, "up", 0, 0) };
        foreach (var w in _stats.Values)
        {
            string status = engine.IsExcluded(nodeOf(w.Ref)) ? "excluded"
                : !engine.Live.Contains(w.Ref) ? "gone"
                : straggler?.Invoke(w.Name) == true ? "straggler"
                : _status.GetValueOrDefault(w.Ref.Path.Address, "up");
            rows.Add(new(w.Name, w.Address, Roles.Worker, status, w.ShardsDone, w.ShardsDone == 0 ? 0 : w.ComputeMilliseconds / w.ShardsDone));
        }
        return rows;
    }

    public object[] Summaries(Engine engine) => _stats.Values.Select(w => w.Summary(engine.BadResults(w.Ref))).ToArray();

    /// <summary>Where a step's time went, per step of this session on average.</summary>
    public StepBreakdown Breakdown(TrainingRun run)
    {
        var (bytes, serialize, deserialize) = ProtocolCodec.Totals;
        double steps = Math.Max(1, run.StepsThisSession);
        return new StepBreakdown(
            StepMs: run.Epochs.Sum(e => e.TrainSeconds) * 1000 / Math.Max(1, run.Step),
            ReduceAndOptimizerMs: _reduceMilliseconds / steps,
            SerializeMs: (serialize - _serializeAtStart.Serialize).TotalMilliseconds / steps,
            DeserializeMs: (deserialize - _serializeAtStart.Deserialize).TotalMilliseconds / steps,
            BytesSerialized: (bytes - _serializeAtStart.Bytes) / steps,
            BytesReceived: (ProtocolCodec.BytesRead - _readAtStart) / steps);
    }
}
