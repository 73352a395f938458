using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// Drives a <see cref="TrainingRun"/> over the cluster: waits for enough workers, then each step
/// assigns the batch's virtual shards to the live workers with the current weights, collects the
/// shard gradient sums in a <see cref="StepCollector"/> (which adds them in shard order), and steps
/// the run. Holds no math. Behaviours: WaitingForWorkers → Training → Done.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor
{
    /// <summary>How the coordinator is set up.</summary>
    public sealed record Settings(string RunId, int MinWorkers, Action<string> Log, ITensorTransport Transport, TaskCompletionSource<ClusterRunOutcome> Done);

    private readonly TrainingRun _run;
    private readonly Settings _settings;
    private readonly List<WorkerStats> _workers = [];
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private StepCollector? _collector;
    private readonly Dictionary<int, IActorRef> _assignedTo = [];
    private double _reduceMilliseconds;
    private TensorEnvelope? _weights;
    private (long Bytes, TimeSpan Serialize, TimeSpan Deserialize) _serializeAtStart;

    public CoordinatorActor(TrainingRun run, Settings settings)
    {
        _run = run;
        _settings = settings;
        WaitingForWorkers();
    }

    public static Props Props(TrainingRun run, Settings settings) => Akka.Actor.Props.Create(() => new CoordinatorActor(run, settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.UnreachableMember));
        _settings.Log($"coordinator: run {_settings.RunId}, waiting for {_settings.MinWorkers} worker(s) at {_cluster.SelfAddress}");
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void WaitingForWorkers()
    {
        Receive<RegisterWorker>(r =>
        {
            Admit(r);
            if (_workers.Count >= _settings.MinWorkers)
            {
                _settings.Log($"coordinator: {_workers.Count} worker(s) registered; training {_run.Options.Epochs} epoch(s) of {_run.BatchesPerEpoch} steps, {_run.Options.Shards} shards per step");
                Become(Training);
                _run.Start();
                _serializeAtStart = ProtocolSerializer.Totals;
                StartStep();
            }
        });
        Membership();
    }

    private void Training()
    {
        Receive<RegisterWorker>(Admit);
        Receive<ShardResult>(Collect);
        Receive<WorkerFailed>(f => _settings.Log($"coordinator: worker {Sender.Path.Address} cannot take part: {f.Reason}"));
        Membership();
    }

    private void Done()
    {
        Receive<ShardResult>(r => _settings.Log($"coordinator: dropped result for step {r.Step} shard {r.Shard}: the run is over"));
        Membership();
    }

    private void Membership()
    {
        Receive<ClusterEvent.MemberUp>(up => _settings.Log($"coordinator: member up {up.Member.Address} [{string.Join(",", up.Member.Roles)}]"));
        Receive<ClusterEvent.UnreachableMember>(u => _settings.Log($"coordinator: member unreachable {u.Member.Address}"));
        Receive<ClusterEvent.MemberRemoved>(m => _settings.Log($"coordinator: member removed {m.Member.Address}"));
        Receive<Terminated>(t => Remove(t.ActorRef));
        ReceiveAny(Unhandled);
    }

    private void Admit(RegisterWorker r)
    {
        if (_workers.Any(w => w.Ref.Equals(Sender)))
        {
            Sender.Tell(Welcome());
            return;
        }
        _workers.Add(new WorkerStats(r.Name, Sender, r.Threads));
        Context.Watch(Sender);
        Sender.Tell(Welcome());
        _settings.Log($"coordinator: worker {r.Name} registered from {Sender.Path.Address} ({_workers.Count} now)");
        // Shards orphaned while no worker was alive go to the newcomer.
        if (_collector is not null && _workers.Count == 1) Assign(Unassigned().ToArray());
    }

    private IEnumerable<int> Unassigned() => _collector!.Missing.Where(s => !_assignedTo.ContainsKey(s));

    private Welcome Welcome() => new(_settings.RunId,
        new ModelSpec(_run.Data.Train.PixelsPerImage, _run.Options.Hidden.ToArray(), _run.Data.Train.Classes),
        new DataSpec(_run.Data.Train.Count, _run.Data.Train.Fingerprint(_run.Data.Train.Count)));

    private void Remove(IActorRef worker)
    {
        int index = _workers.FindIndex(w => w.Ref.Equals(worker));
        if (index < 0) return;
        _settings.Log($"coordinator: worker {_workers[index].Name} at {worker.Path.Address} is gone");
        _workers.RemoveAt(index);
        if (_collector is null || _collector.IsComplete) return;
        // Its missing shards go to the others within this step; results it sent are kept.
        var orphans = _assignedTo.Where(a => a.Value.Equals(worker) && !_collector.Has(a.Key)).Select(a => a.Key).ToArray();
        foreach (var s in orphans) _assignedTo.Remove(s);
        if (orphans.Length == 0) return;
        if (_workers.Count == 0)
        {
            _settings.Log($"coordinator: no workers left; shards {string.Join(",", orphans)} of step {_run.Step} wait for one to join");
            return;
        }
        _settings.Log($"coordinator: reassigning shards {string.Join(",", orphans)} of step {_run.Step}");
        Assign(orphans);
    }

    private void StartStep()
    {
        _collector = new StepCollector(_run.Step, Enumerable.Range(0, _run.Options.Shards).Select(s => _run.ShardSamples(s).Length).ToArray(),
            _run.Model.ParameterCount);
        _assignedTo.Clear();
        foreach (var w in _workers) w.OutstandingThisStep = 0;
        _weights = _settings.Transport.Wrap(_run.Model.FlattenValues());
        Assign(_collector.Missing.ToArray());
    }

    /// <summary>
    /// Sends shards to the live workers, the i-th of them to worker i mod W: who computes a shard
    /// never changes its contents or where it goes in the sum.
    /// </summary>
    private void Assign(int[] shards)
    {
        if (_workers.Count == 0 || shards.Length == 0) return;
        long now = Stopwatch.GetTimestamp();
        for (int w = 0; w < _workers.Count; w++)
        {
            var mine = shards.Where((_, i) => i % _workers.Count == w).Select(s => new ShardAssignment(s, _run.ShardSamples(s))).ToArray();
            if (mine.Length == 0) continue;
            var worker = _workers[w];
            worker.SentAt = now;
            worker.ComputeThisStep = 0;
            worker.OutstandingThisStep += mine.Length;
            foreach (var a in mine) _assignedTo[a.Shard] = worker.Ref;
            worker.Ref.Tell(new ComputeShards(_settings.RunId, _run.Step, _run.Step, _weights, mine));
        }
    }

    private void Collect(ShardResult r)
    {
        var collector = _collector!;
        if (r.RunId != _settings.RunId)
        {
            _settings.Log($"coordinator: dropped a result for unknown run {r.RunId} from {Sender.Path.Address}");
            return;
        }
        var verdict = collector.Offer(r.Step, r.Shard, r.Samples, r.LossSum, r.Correct, _settings.Transport.Open(r.GradientSum));
        if (verdict != ShardVerdict.Accepted)
        {
            _settings.Log($"coordinator: dropped result step {r.Step} shard {r.Shard} from {Sender.Path.Address}: {verdict} (now at step {collector.Step})");
            return;
        }
        _workers.Find(w => w.Ref.Equals(Sender))?.CountShard(r.ComputeMilliseconds, Stopwatch.GetTimestamp());
        if (!collector.IsComplete) return;

        long reduceStart = Stopwatch.GetTimestamp();
        collector.WriteMeanTo(_run.Model);
        var epoch = _run.CompleteStep(collector.LossSum, collector.Correct);
        _reduceMilliseconds += Stopwatch.GetElapsedTime(reduceStart).TotalMilliseconds;
        if (epoch is not null) _settings.Log(TrainingRun.Describe(epoch, _run.Options.Epochs));
        if (_run.Finished) Finish();
        else StartStep();
    }

    private void Finish()
    {
        var result = _run.Result();
        foreach (var w in _workers) w.Ref.Tell(new RunFinished(_settings.RunId, result.FinalWeightsSha256));
        Become(Done);
        var (bytes, serialize, deserialize) = ProtocolSerializer.Totals;
        double steps = Math.Max(1, _run.Step);
        var breakdown = new StepBreakdown(
            StepMs: _run.Epochs.Sum(e => e.TrainSeconds) * 1000 / steps,
            ReduceAndOptimizerMs: _reduceMilliseconds / steps,
            SerializeMs: (serialize - _serializeAtStart.Serialize).TotalMilliseconds / steps,
            DeserializeMs: (deserialize - _serializeAtStart.Deserialize).TotalMilliseconds / steps,
            BytesSerialized: (bytes - _serializeAtStart.Bytes) / steps);
        _settings.Done.TrySetResult(new ClusterRunOutcome(result, _run.Model, _workers.Select(w => w.Summary()).ToArray(), breakdown));
    }
}

/// <summary>A cluster run's result with the per-worker figures.</summary>
public sealed record ClusterRunOutcome(TrainingResult Result, Shared.Layers.Sequential<float> Model, object[] Workers, StepBreakdown Breakdown)
{
    /// <summary>What metrics.json adds for a cluster run.</summary>
    public object Extra => new { Workers, StepBreakdown = Breakdown };
}

/// <summary>
/// Where a cluster step's time goes, per step on average. Serialization figures are process-wide:
/// in the single-machine simulation they cover every node; in a multi-process run only the
/// coordinator's side. Workers' compute is in the per-worker figures.
/// </summary>
public sealed record StepBreakdown(double StepMs, double ReduceAndOptimizerMs, double SerializeMs, double DeserializeMs, double BytesSerialized);
