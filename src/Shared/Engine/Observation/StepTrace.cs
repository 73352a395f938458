using System.Text.Json;

namespace Distributed.Shared.Observation;

/// <summary>
/// The last steps of a run as a Chrome / Perfetto trace (the trace-event format's "X" complete
/// events, opened by chrome://tracing and ui.perfetto.dev), as the coordinator saw them on its own
/// clock: one track for the coordinator's steps, one per worker with a span from sending it a step's
/// work to its result, and inside it the compute the worker reported, placed to end when the result
/// arrived (workers' clocks are not in the messages, so where its compute began is not known).
/// Bounded: the oldest spans go once <see cref="Capacity"/> are held.
/// </summary>
public sealed class StepTrace(int capacity = 60_000)
{
    private readonly record struct Span(int Track, string Name, long StartMicros, long DurationMicros, long Step, int First, int Count, double ComputeMs);

    private readonly Queue<Span> _spans = new();
    private readonly Dictionary<string, int> _tracks = new() { ["coordinator"] = 0 };
    private readonly Dictionary<string, TimeSpan> _sent = [];
    private long _step = -1;
    private TimeSpan _stepStart;

    public int Capacity { get; } = capacity;

    /// <summary>Spans held now (at most <see cref="Capacity"/>).</summary>
    public int Count => _spans.Count;

    public void StepStarted(long step, TimeSpan now)
    {
        (_step, _stepStart) = (step, now);
        _sent.Clear();
    }

    /// <summary>Work went to <paramref name="worker"/>: its span starts now unless it already holds work of this step.</summary>
    public void Sent(string worker, long step, TimeSpan now)
    {
        if (step == _step) _sent.TryAdd(worker, now);
    }

    public void Arrived(string worker, long step, int first, int count, double computeMs, TimeSpan now)
    {
        if (step != _step || !_sent.Remove(worker, out var sent)) return;
        int track = Track(worker);
        Add(new Span(track, $"step {step}: shard{(count > 1 ? $"s {first}–{first + count - 1}" : $" {first}")}", Micros(sent), Micros(now - sent), step, first, count, computeMs));
        long compute = Math.Min((long)(computeMs * 1000), Micros(now - sent));
        Add(new Span(track, "compute (reported)", Micros(now) - compute, compute, step, first, count, computeMs));
        _sent[worker] = now; // a further piece of the same step is timed from this result
    }

    public void StepCompleted(long step, TimeSpan now)
    {
        if (step == _step) Add(new Span(0, $"step {step}", Micros(_stepStart), Micros(now - _stepStart), step, -1, 0, 0));
    }

    /// <summary>The trace as JSON: metadata naming the tracks, then the spans in the order recorded.</summary>
    public string ToJson()
    {
        var events = new List<object>
        {
            new Dictionary<string, object> { ["name"] = "process_name", ["ph"] = "M", ["pid"] = 1, ["tid"] = 0, ["args"] = new Dictionary<string, object> { ["name"] = "run, on the coordinator's clock" } },
        };
        foreach (var (name, tid) in _tracks)
            events.Add(new Dictionary<string, object> { ["name"] = "thread_name", ["ph"] = "M", ["pid"] = 1, ["tid"] = tid, ["args"] = new Dictionary<string, object> { ["name"] = name } });
        foreach (var s in _spans)
        {
            var args = new Dictionary<string, object> { ["step"] = s.Step };
            if (s.First >= 0) (args["first_shard"], args["shards"], args["reported_compute_ms"]) = (s.First, s.Count, Math.Round(s.ComputeMs, 3));
            events.Add(new Dictionary<string, object>
            {
                ["name"] = s.Name, ["cat"] = s.Track == 0 ? "step" : "worker", ["ph"] = "X", ["pid"] = 1, ["tid"] = s.Track, ["ts"] = s.StartMicros, ["dur"] = s.DurationMicros, ["args"] = args,
            });
        }
        return JsonSerializer.Serialize(new Dictionary<string, object> { ["traceEvents"] = events, ["displayTimeUnit"] = "ms" });
    }

    private int Track(string worker)
    {
        if (!_tracks.TryGetValue(worker, out int track)) _tracks[worker] = track = _tracks.Count;
        return track;
    }

    private void Add(Span span)
    {
        _spans.Enqueue(span);
        while (_spans.Count > Capacity) _spans.Dequeue();
    }

    private static long Micros(TimeSpan t) => t.Ticks / 10;
}
