using Distributed.Shared.Observation;

namespace Distributed.Tests.Observation;

/// <summary>Stalls and stragglers from event times alone: no actors, no clock.</summary>
public sealed class StepWatchSpecs
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>One step: each worker is sent its shards at the step's start and answers after its latency (ms), reporting <paramref name="computeMs"/> per shard.</summary>
    private static IReadOnlyList<string> Step(StepWatch watch, long step, TimeSpan start, (string Worker, int[] Shards, double LatencyMs, double ComputeMs)[] work)
    {
        watch.StepStarted(step, start);
        foreach (var w in work) watch.Sent(w.Worker, step, w.Shards, start);
        foreach (var w in work.OrderBy(w => w.LatencyMs))
            watch.Arrived(w.Worker, step, w.Shards[0], w.Shards.Length, w.ComputeMs * w.Shards.Length, start + Ms(w.LatencyMs));
        return watch.Completed(step, start + Ms(work.Max(w => w.LatencyMs) + 1));
    }

    [Fact]
    public void A_step_should_be_called_stalled_after_the_minimum_naming_the_missing_worker_shards_and_last_phase_once()
    {
        var watch = new StepWatch();
        for (int s = 0; s < 5; s++) Step(watch, s, Ms(100 * s), [("w1", [0, 1], 10, 4), ("w2", [2, 3], 10, 4)]);
        Assert.Equal(Ms(500), watch.StallAfter); // 4 × 11 ms is below the 500 ms floor
        var start = Ms(1000);
        watch.StepStarted(5, start);
        watch.Sent("w1", 5, [0, 1], start);
        watch.Sent("w2", 5, [2, 3], start);
        watch.Arrived("w1", 5, 0, 2, 8, start + Ms(10));
        watch.Arrived("w2", 5, 2, 1, 4, start + Ms(12));
        Assert.Null(watch.Stalled(5, start + Ms(400)));
        string line = watch.Stalled(5, start + Ms(620))!;
        Assert.Equal("coordinator: step 5 stalled: 620 ms so far, the recent median step is 11 ms; waiting for w2 (shard 3; last heard 608 ms ago: sent a result for shard 2)", line);
        Assert.Null(watch.Stalled(5, start + Ms(900)));
        Assert.Equal("w2 (shard 3; last heard 888 ms ago: sent a result for shard 2)", watch.WaitingFor(5, start + Ms(900)));
    }

    [Fact]
    public void The_stall_threshold_should_follow_the_median_step_when_steps_are_slow()
    {
        var watch = new StepWatch();
        foreach (var (s, ms) in new[] { (0, 180.0), (1, 250.0), (2, 199.0), (3, 3000.0), (4, 210.0) })
            Step(watch, s, Ms(10_000 * s), [("w1", [0], ms - 1, 1), ("w2", [1], ms - 1, 1)]);
        // Median of 180, 250, 199, 3000, 210 (each + 0 ms): 210; a stall is 4 × that. One slow step does not move it.
        Assert.Equal(Ms(4 * 210), watch.StallAfter);
    }

    [Fact]
    public void A_step_whose_shards_all_arrived_should_not_be_stalled_even_if_a_reassigned_worker_never_answered()
    {
        var watch = new StepWatch();
        watch.StepStarted(0, Ms(0));
        watch.Sent("w1", 0, [0, 1], Ms(0));
        watch.Sent("w2", 0, [0, 1], Ms(5000)); // the deadline gave w1's shards to w2 as well
        watch.Arrived("w2", 0, 0, 2, 3, Ms(5010));
        Assert.Null(watch.Stalled(0, Ms(9000)));
    }

    [Fact]
    public void A_worker_at_half_speed_should_be_named_at_its_fourth_late_step_with_the_evidence()
    {
        var watch = new StepWatch();
        var lines = new List<string>();
        // Half speed: twice the compute, the same transfer, so 1.8× the latency.
        for (int s = 0; s < 4; s++) lines.AddRange(Step(watch, s, Ms(100 * s), [("w1", [0], 20, 18), ("w2", [1], 21, 19), ("w3", [2], 38, 38)]));
        Assert.Equal(["coordinator: straggler w3: its pieces arrived 1.8× later than its peers' over the last steps (median 38.0 ms vs 21.0 ms from sending to the last result, step 3); " +
            "it computes slowly (38.00 ms per shard vs 19.00)"], lines);
        Assert.True(watch.IsStraggler("w3"));
        Assert.False(watch.IsStraggler("w1"));
        var named = Assert.Single(watch.Reported);
        Assert.Equal(("w3", 3L, true), (named.Worker, named.Step, named.ComputeBound));
        // Back to speed: five steps on time and it is no straggler any more (named once, not per step).
        for (int s = 4; s < 9; s++) lines.AddRange(Step(watch, s, Ms(100 * s), [("w1", [0], 20, 18), ("w2", [1], 21, 19), ("w3", [2], 22, 19)]));
        Assert.Equal("coordinator: w3 is no straggler any more: on time in each of the last 5 steps", lines[^1]);
        Assert.False(watch.IsStraggler("w3"));
        Assert.Single(watch.Reported);
    }

    [Fact]
    public void Late_arrivals_with_normal_compute_should_be_blamed_on_transfer_not_compute()
    {
        var watch = new StepWatch();
        var lines = new List<string>();
        for (int s = 0; s < 4; s++) lines.AddRange(Step(watch, s, Ms(100 * s), [("w1", [0], 10, 8), ("w2", [1], 30, 8)]));
        Assert.Contains("its compute is normal (8.00 ms per shard vs 8.00): the time goes in transfer or while it is not running", Assert.Single(lines));
    }

    [Fact]
    public void Jitter_and_one_slow_step_should_name_no_one()
    {
        var watch = new StepWatch();
        var rng = new Random(5);
        var lines = new List<string>();
        for (int s = 0; s < 200; s++)
        {
            // Each worker 10–15 ms, and every 10th step one of them is 3× late once.
            double Jitter() => 10 + 5 * rng.NextDouble();
            var work = new[] { ("w1", new[] { 0 }, Jitter(), 8.0), ("w2", new[] { 1 }, Jitter(), 8.0), ("w3", new[] { 2 }, Jitter(), 8.0) };
            if (s % 10 == 0) work[s / 10 % 3].Item3 *= 3;
            lines.AddRange(Step(watch, s, Ms(100 * s), work));
        }
        Assert.Empty(lines);
        Assert.Empty(watch.Reported);
    }

    [Fact]
    public void A_lone_worker_should_never_be_a_straggler()
    {
        var watch = new StepWatch();
        for (int s = 0; s < 10; s++) Assert.Empty(Step(watch, s, Ms(100 * s), [("w1", [0, 1, 2, 3], 50 + 40 * (s % 2), 10)]));
    }
}
