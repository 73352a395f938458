using System.Diagnostics;
using Distributed.Shared.Observation;

namespace Distributed.Bench;

/// <summary>What the coordinator's step watch and trace cost per step: the same calls the actor makes, for synthetic steps.</summary>
public static class ObservationOverhead
{
    public static void Print(int workers = 4, int steps = 200_000)
    {
        var watch = new StepWatch();
        var trace = new StepTrace();
        var names = Enumerable.Range(1, workers).Select(w => $"worker-{w}").ToArray();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var t = TimeSpan.Zero;
        for (int step = 0; step < steps; step++)
        {
            watch.StepStarted(step, t);
            trace.StepStarted(step, t);
            for (int w = 0; w < workers; w++)
            {
                watch.Sent(names[w], step, [w], t);
                trace.Sent(names[w], step, t);
            }
            for (int w = 0; w < workers; w++)
            {
                t += TimeSpan.FromTicks(3000 + 100 * w);
                watch.Arrived(names[w], step, w, 1, 0.25, t);
                trace.Arrived(names[w], step, w, 1, 0.25, t);
            }
            watch.Completed(step, t);
            trace.StepCompleted(step, t);
        }
        double usPerStep = clock.Elapsed.TotalMicroseconds / steps;
        double bytesPerStep = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)steps;
        Console.WriteLine($"## Step watch and trace: {workers} workers, one piece each, {steps:N0} synthetic steps");
        Console.WriteLine($"{usPerStep:F2} µs and {bytesPerStep:N0} bytes allocated per step on the coordinator's thread; " +
            $"against a 2-worker simulation step of the default MLP (2.1 ms: the README run's 60,606 samples/s) that is {usPerStep / 2100 * 100:F2} %; the trace holds the last {trace.Count:N0} spans");
        Console.WriteLine();
    }
}
