using Distributed.Coordinator.Training;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Training;

/// <summary>Checkpoints are captured at the step and written behind it, in order, one at a time, and the newest is on disk when the checkpointer is disposed.</summary>
public sealed class CheckpointerSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Hidden = [8], TrainLimit = 256, TestLimit = 20 };

    [Fact]
    public void A_slow_disk_should_not_hold_up_the_step_and_keep_one_write_in_flight_and_the_newest_waiting()
    {
        var run = new TrainingRun(Options, TestData.Subset(256, 20));
        using var disk = new ManualResetEventSlim(false);
        using var writing = new ManualResetEventSlim(false);
        var written = new List<(long Step, float FirstWeight)>();
        var log = new List<string>();
        var checkpointer = new Checkpointer("unused", everySteps: 1, l => { lock (log) log.Add(l); }, (_, c) =>
        {
            writing.Set();
            disk.Wait();
            lock (written) written.Add((c.Step, c.Weights[0]));
            return $"checkpoint-{c.Step}";
        });
        var captured = new List<(long, float)>();
        for (int step = 1; step <= 4; step++)
        {
            run.Model.LoadGradients(Enumerable.Repeat(0.5f, run.Model.ParameterCount).ToArray());
            var epoch = run.CompleteStep(1, 1);
            checkpointer.OnStep(run, epoch); // returns with the disk still blocked
            captured.Add((run.Step, run.Model.FlattenValues()[0]));
            if (step == 1) Assert.True(writing.Wait(TimeSpan.FromSeconds(10)), "the first write did not start");
        }
        lock (written) Assert.Empty(written);
        disk.Set();
        checkpointer.Dispose();
        // The first was in flight; of the three that came while it was, only the newest waited.
        // Each holds its own step's weights (captured then, not when written), in step order.
        Assert.Equal(new[] { captured[0], captured[3] }, written);
        Assert.NotEqual(captured[0].Item2, captured[3].Item2);
        lock (log)
        {
            Assert.Contains(log, l => l.Contains($"step {captured[1].Item1}'s checkpoint is skipped for a newer one"));
            Assert.Contains(log, l => l.Contains($"step {captured[2].Item1}'s checkpoint is skipped for a newer one"));
        }
    }

    [Fact]
    public void A_failed_write_should_be_logged_and_the_next_still_written()
    {
        var run = new TrainingRun(Options, TestData.Subset(256, 20));
        var log = new List<string>();
        int calls = 0;
        using (var checkpointer = new Checkpointer("/nowhere", everySteps: 1, l => { lock (log) log.Add(l); },
            (_, c) => ++calls == 1 ? throw new IOException("No space left on device") : $"checkpoint-{c.Step}"))
            for (int step = 0; step < 2; step++)
            {
                run.Model.LoadGradients(new float[run.Model.ParameterCount]);
                checkpointer.OnStep(run, run.CompleteStep(1, 1));
                // The next waits for this one to be taken up: else the newer would replace it unwritten.
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref calls) > step, TimeSpan.FromSeconds(10)));
            }
        Assert.Equal(2, calls);
        Assert.Contains(log, l => l.Contains("could not write step 1") && l.Contains("No space left on device") && l.Contains("previous checkpoint is kept"));
    }
}
