using System.Text.Json;
using Distributed.Shared.Observation;

namespace Distributed.Tests.Observation;

/// <summary>trace.json against the trace-event format (what chrome://tracing and Perfetto read), and its bound.</summary>
public sealed class StepTraceSpecs
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static StepTrace TwoSteps()
    {
        var trace = new StepTrace();
        for (int step = 0; step < 2; step++)
        {
            var t0 = Ms(100 * step);
            trace.StepStarted(step, t0);
            trace.Sent("w1", step, t0);
            trace.Sent("w2", step, t0 + Ms(1));
            trace.Arrived("w1", step, 0, 2, 6.5, t0 + Ms(10));
            trace.Arrived("w2", step, 2, 2, 30, t0 + Ms(41));
            trace.StepCompleted(step, t0 + Ms(42));
        }
        return trace;
    }

    [Fact]
    public void The_trace_should_be_valid_trace_event_json_with_one_named_track_per_node()
    {
        using var json = JsonDocument.Parse(TwoSteps().ToJson());
        var events = json.RootElement.GetProperty("traceEvents").EnumerateArray().ToArray();
        foreach (var e in events)
        {
            Assert.Equal(JsonValueKind.String, e.GetProperty("name").ValueKind);
            Assert.Contains(e.GetProperty("ph").GetString(), new[] { "X", "M" });
            Assert.True(e.GetProperty("pid").GetInt32() >= 0 && e.GetProperty("tid").GetInt32() >= 0);
            if (e.GetProperty("ph").GetString() == "X")
                Assert.True(e.GetProperty("ts").GetInt64() >= 0 && e.GetProperty("dur").GetInt64() >= 0);
        }
        var tracks = events.Where(e => e.GetProperty("name").GetString() == "thread_name")
            .ToDictionary(e => e.GetProperty("tid").GetInt32(), e => e.GetProperty("args").GetProperty("name").GetString());
        Assert.Equal(new Dictionary<int, string?> { [0] = "coordinator", [1] = "w1", [2] = "w2" }, tracks);
        // Every complete event is on a named track.
        Assert.All(events.Where(e => e.GetProperty("ph").GetString() == "X"), e => Assert.Contains(e.GetProperty("tid").GetInt32(), tracks.Keys));
    }

    [Fact]
    public void Spans_should_hold_the_times_sent_arrived_and_the_reported_compute_ending_at_arrival()
    {
        using var json = JsonDocument.Parse(TwoSteps().ToJson());
        var spans = json.RootElement.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X")
            .Select(e => (Name: e.GetProperty("name").GetString(), Tid: e.GetProperty("tid").GetInt32(), Ts: e.GetProperty("ts").GetInt64(), Dur: e.GetProperty("dur").GetInt64())).ToList();
        Assert.Contains(("step 1", 0, 100_000L, 42_000L), spans);
        Assert.Contains(("step 1: shards 2–3", 2, 101_000L, 40_000L), spans);
        // w2 reported 30 ms of compute: placed to end at its result (141 ms).
        Assert.Contains(("compute (reported)", 2, 111_000L, 30_000L), spans);
        Assert.Contains(("step 0: shards 0–1", 1, 0L, 10_000L), spans);
        Assert.Equal(2 * (1 + 2 * 2), spans.Count);
    }

    [Fact]
    public void The_trace_should_keep_only_its_capacity_of_newest_spans()
    {
        var trace = new StepTrace(capacity: 10);
        for (int step = 0; step < 100; step++)
        {
            trace.StepStarted(step, Ms(step));
            trace.Sent("w1", step, Ms(step));
            trace.Arrived("w1", step, 0, 1, 0.5, Ms(step + 0.8));
            trace.StepCompleted(step, Ms(step + 0.9));
        }
        Assert.Equal(10, trace.Count);
        using var json = JsonDocument.Parse(trace.ToJson());
        var names = json.RootElement.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X").Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal("step 99", names[^1]);
        Assert.DoesNotContain(names, n => n!.StartsWith("step 95"));
    }
}
