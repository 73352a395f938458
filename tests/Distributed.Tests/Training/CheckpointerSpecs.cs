using Distributed.Coordinator.Training;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Training;

/// <summary>Checkpoints are captured at the step and written behind it, in order, and all are on disk when the checkpointer is disposed.</summary>
public sealed class CheckpointerSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Hidden = [8], TrainLimit = 256, TestLimit = 20 };

    [Fact]
    public void A_slow_disk_should_not_hold_up_the_step_and_disposing_should_wait_for_every_write()
    {
        var run = new TrainingRun(Options, TestData.Subset(256, 20));
        using var disk = new ManualResetEventSlim(false);
        var written = new List<(long Step, float FirstWeight)>();
        var log = new List<string>();
        var checkpointer = new Checkpointer("unused", everySteps: 1, l => { lock (log) log.Add(l); }, (_, c) =>
        {
            disk.Wait();
            lock (written) written.Add((c.Step, c.Weights[0]));
            return $"checkpoint-{c.Step}";
        });
        var expected = new List<(long, float)>();
        for (int step = 1; step <= 3; step++)
        {
            run.Model.LoadGradients(Enumerable.Repeat(0.5f, run.Model.ParameterCount).ToArray());
            var epoch = run.CompleteStep(1, 1);
            checkpointer.OnStep(run, epoch); // returns with the disk still blocked
            expected.Add((run.Step, run.Model.FlattenValues()[0]));
        }
        lock (written) Assert.Empty(written);
        disk.Set();
        checkpointer.Dispose();
        // Each checkpoint holds its own step's weights (captured then, not when written), in step order.
        Assert.Equal(expected, written);
        Assert.NotEqual(expected[0].Item2, expected[2].Item2);
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
            }
        Assert.Equal(2, calls);
        Assert.Contains(log, l => l.Contains("could not write step 1") && l.Contains("No space left on device") && l.Contains("previous checkpoint is kept"));
    }
}
