namespace Distributed.Shared.Observation;

/// <summary>A worker named slow, with the evidence: how much later its pieces arrived than its peers', and its own compute against theirs.</summary>
/// <param name="LatencyMs">Median over the window of the time from sending the worker its step's work to its last result.</param>
/// <param name="PeersLatencyMs">The same for the other workers of the same steps (median of their medians).</param>
/// <param name="ComputeMsPerShard">The worker's reported compute per shard over the window; <paramref name="PeersComputeMsPerShard"/> the others'.</param>
public sealed record Straggler(string Worker, long Step, double LatencyMs, double PeersLatencyMs, double ComputeMsPerShard, double PeersComputeMsPerShard)
{
    public double Ratio => LatencyMs / Math.Max(PeersLatencyMs, 1e-9);

    /// <summary>Whether its own compute explains the delay (at least half as slow again as its peers'), else the delay is in transfer or scheduling.</summary>
    public bool ComputeBound => ComputeMsPerShard >= 1.5 * PeersComputeMsPerShard;

    public string Describe() =>
        $"straggler {Worker}: its pieces arrived {Ratio:F1}× later than its peers' over the last steps (median {LatencyMs:F1} ms vs {PeersLatencyMs:F1} ms from sending to the last result, " +
        $"step {Step}); {(ComputeBound ? $"it computes slowly ({ComputeMsPerShard:F2} ms per shard vs {PeersComputeMsPerShard:F2})" : $"its compute is normal ({ComputeMsPerShard:F2} ms per shard vs {PeersComputeMsPerShard:F2}): the time goes in transfer or while it is not running")}";
}

/// <summary>When to call a step stalled and a worker a straggler.</summary>
/// <param name="StallFactor">A step is stalled after this many times the median of recent steps' durations…</param>
/// <param name="MinimumStall">…but never before this (fast steps jitter by more than their length).</param>
/// <param name="Window">Steps a worker's lateness is judged over.</param>
/// <param name="StragglerFactor">
/// Late means at least this many times its peers' median latency in the same step… A worker at half
/// speed arrives less than 2× later (the transfer takes as long as its peers').
/// </param>
/// <param name="StragglerSteps">
/// …in at least this many of the window's steps. 3 of 5 named an unslowed worker once in 6 runs
/// with a 4th process competing for the 2 cores; 4 of 5 still names a half-speed worker at its
/// fourth step.
/// </param>
public sealed record WatchRules(double StallFactor = 4, TimeSpan? MinimumStall = null, int Window = 5, double StragglerFactor = 1.5, int StragglerSteps = 4)
{
    public TimeSpan Minimum => MinimumStall ?? TimeSpan.FromMilliseconds(500);
}

/// <summary>
/// What the coordinator knows, step by step, about who it is waiting for: when each worker was sent
/// its work and which shards, when results came, what each worker reported computing. From that it
/// says when a step has stalled (naming the workers and shards missing and the last thing heard from
/// each) and which workers are consistently later than their peers (stragglers). Pure: the host
/// passes the time of each event (a monotonic clock) and decides where lines go; memory is bounded
/// by the window.
/// </summary>
public sealed class StepWatch(WatchRules? rules = null)
{
    private readonly WatchRules _rules = rules ?? new WatchRules();
    private readonly Queue<double> _stepMs = new();
    private readonly Dictionary<string, Pending> _pending = [];
    private readonly Dictionary<string, Queue<(bool Late, double LatencyMs, double PeersMs, double ComputePerShard, double PeersCompute)>> _history = [];
    private readonly Dictionary<string, Straggler> _named = [];
    private readonly List<Straggler> _reported = [];
    private long _step = -1;
    private TimeSpan _stepStart;
    private bool _stallReported;

    private sealed class Pending
    {
        public TimeSpan SentAt;
        public TimeSpan LastHeard;
        public string LastPhase = "sent its work";
        public readonly SortedSet<int> Missing = [];
        public double ComputeMs;
        public int Shards;
        public TimeSpan? DoneAt;
    }

    /// <summary>Every straggler named in the run, in order (what metrics.json lists).</summary>
    public IReadOnlyList<Straggler> Reported => _reported;

    /// <summary>Whether <paramref name="worker"/> is a straggler now (named and not recovered).</summary>
    public bool IsStraggler(string worker) => _named.ContainsKey(worker);

    /// <summary>How long the current step may run before it counts as stalled.</summary>
    public TimeSpan StallAfter
    {
        get
        {
            if (_stepMs.Count == 0) return _rules.Minimum;
            var sorted = _stepMs.Order().ToArray();
            var typical = TimeSpan.FromMilliseconds(sorted[sorted.Length / 2] * _rules.StallFactor);
            return typical > _rules.Minimum ? typical : _rules.Minimum;
        }
    }

    public void StepStarted(long step, TimeSpan now)
    {
        (_step, _stepStart, _stallReported) = (step, now, false);
        _pending.Clear();
    }

    /// <summary>Work for <paramref name="shards"/> went to <paramref name="worker"/> (a reassignment adds to what it already holds).</summary>
    public void Sent(string worker, long step, IEnumerable<int> shards, TimeSpan now)
    {
        if (step != _step) return;
        if (!_pending.TryGetValue(worker, out var p) || p.DoneAt is not null)
        {
            var fresh = new Pending { SentAt = now, LastHeard = now };
            if (p is not null) (fresh.ComputeMs, fresh.Shards) = (p.ComputeMs, p.Shards);
            _pending[worker] = p = fresh;
        }
        foreach (var s in shards) p.Missing.Add(s);
    }

    /// <summary>A result for shards [first, first + count) of <paramref name="step"/> came from <paramref name="worker"/>, reporting <paramref name="computeMs"/> of compute.</summary>
    public void Arrived(string worker, long step, int first, int count, double computeMs, TimeSpan now)
    {
        if (step != _step || !_pending.TryGetValue(worker, out var p)) return;
        // A shard is done whoever delivers it (after a reassignment, the first result counts).
        foreach (var other in _pending.Values)
            for (int s = first; s < first + count; s++) other.Missing.Remove(s);
        (p.LastHeard, p.LastPhase) = (now, $"sent a result for shard{(count > 1 ? $"s {first}–{first + count - 1}" : $" {first}")}");
        p.ComputeMs += computeMs;
        p.Shards += count;
        if (p.Missing.Count == 0) p.DoneAt = now;
    }

    /// <summary>
    /// The step is taking longer than <see cref="StallAfter"/>: one line naming what the step waits
    /// for, or null when nothing is missing or this step's stall was already reported.
    /// </summary>
    public string? Stalled(long step, TimeSpan now)
    {
        if (step != _step || _stallReported) return null;
        var waiting = _pending.Where(p => p.Value.Missing.Count > 0).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        if (waiting.Count == 0 || now - _stepStart < StallAfter) return null;
        _stallReported = true;
        return $"coordinator: step {step} stalled: {Seconds(now - _stepStart)} so far, the recent median step is {Seconds(TimeSpan.FromMilliseconds(MedianStepMs()))}; " +
            $"waiting for {string.Join("; ", waiting.Select(w => Waiting(w.Key, w.Value, now)))}";
    }

    /// <summary>What a reassignment of <paramref name="shards"/> leaves the step waiting for (for the line the engine's reassignment adds).</summary>
    public string WaitingFor(long step, TimeSpan now)
    {
        var waiting = _pending.Where(p => p.Value.Missing.Count > 0).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        return step != _step || waiting.Count == 0 ? "nothing" : string.Join("; ", waiting.Select(w => Waiting(w.Key, w.Value, now)));
    }

    /// <summary>
    /// The step completed: its duration joins the median, every worker's lateness against its peers
    /// is recorded, and the lines of workers newly named stragglers (or recovered) are returned.
    /// </summary>
    public IReadOnlyList<string> Completed(long step, TimeSpan now)
    {
        if (step != _step) return [];
        Remember(_stepMs, (now - _stepStart).TotalMilliseconds);
        var served = _pending.Where(p => p.Value.DoneAt is not null && p.Value.Shards > 0)
            .ToDictionary(p => p.Key, p => (Latency: (p.Value.DoneAt!.Value - p.Value.SentAt).TotalMilliseconds, PerShard: p.Value.ComputeMs / p.Value.Shards));
        var lines = new List<string>();
        if (served.Count < 2) return lines;
        foreach (var (worker, mine) in served)
        {
            var peers = served.Where(p => p.Key != worker).Select(p => p.Value).ToList();
            double peersLatency = Median(peers.Select(p => p.Latency)), peersCompute = Median(peers.Select(p => p.PerShard));
            bool late = mine.Latency >= _rules.StragglerFactor * peersLatency && mine.Latency - peersLatency >= 1.0;
            if (!_history.TryGetValue(worker, out var h)) _history[worker] = h = new();
            h.Enqueue((late, mine.Latency, peersLatency, mine.PerShard, peersCompute));
            while (h.Count > _rules.Window) h.Dequeue();
            int lateSteps = h.Count(x => x.Late);
            if (lateSteps >= _rules.StragglerSteps && !_named.ContainsKey(worker))
            {
                var lateOnes = h.Where(x => x.Late).ToList();
                var s = new Straggler(worker, step, Median(lateOnes.Select(x => x.LatencyMs)), Median(lateOnes.Select(x => x.PeersMs)),
                    Median(h.Select(x => x.ComputePerShard)), Median(h.Select(x => x.PeersCompute)));
                _named[worker] = s;
                _reported.Add(s);
                lines.Add($"coordinator: {s.Describe()}");
            }
            else if (lateSteps == 0 && h.Count >= _rules.Window && _named.Remove(worker))
                lines.Add($"coordinator: {worker} is no straggler any more: on time in each of the last {_rules.Window} steps");
        }
        return lines;
    }

    private string Waiting(string worker, Pending p, TimeSpan now) =>
        $"{worker} (shard{(p.Missing.Count > 1 ? "s" : "")} {string.Join(", ", p.Missing)}; last heard {Seconds(now - p.LastHeard)} ago: {p.LastPhase})";

    private double MedianStepMs() => _stepMs.Count == 0 ? 0 : Median(_stepMs);

    private void Remember(Queue<double> q, double value)
    {
        q.Enqueue(value);
        while (q.Count > Math.Max(_rules.Window, 20)) q.Dequeue();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted[sorted.Length / 2];
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:F1} s" : $"{t.TotalMilliseconds:F0} ms";
}
