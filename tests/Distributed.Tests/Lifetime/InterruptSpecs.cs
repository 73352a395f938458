using Distributed.Coordinator.Training;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Lifetime;

/// <summary>
/// SIGINT and SIGTERM against real processes: every mode finishes or abandons its step, writes a
/// checkpoint, prints the command that continues, exits 130 or 143; continuing ends with the hash
/// of a run never interrupted.
/// </summary>
public sealed class InterruptSpecs : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("interrupt-").FullName;

    public void Dispose() => Directory.Delete(_out, true);

    // Long enough (in epochs: 2,000 steps, ~6 s with 2 workers here) for a signal after epoch 3 to land mid-run, small enough to finish in seconds.
    private static readonly TrainingOptions Options = new() { Epochs = 200, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 100 };

    private static string[] Train(string outFolder, int workers) =>
        ["train", "--workers", workers.ToString(), "--epochs", "200", "--batch-size", "64", "--hidden", "32", "--train-limit", "640", "--test-limit", "100",
         "--plain", "--out", outFolder];

    private static string Undisturbed() => new LocalTrainer(Options, TestData.Subset(640, 100), _ => { }).Run().FinalWeightsSha256;

    [Theory]
    [InlineData(0, "INT", 130, "SIGINT")]
    [InlineData(2, "TERM", 143, "SIGTERM")]
    public void A_signal_should_checkpoint_print_the_resume_command_and_exit_with_128_plus_its_number(int workers, string signal, int code, string name)
    {
        using (var run = ChildNode.Start("Coordinator", Train(_out, workers)))
        {
            run.WaitFor("epoch 3/200", TimeSpan.FromSeconds(60));
            run.Signal(signal);
            Assert.Equal(code, run.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains($"interrupted ({name}) at step", run.Output);
            Assert.Contains($"continue with: train --resume {_out} --workers {workers}", run.Output);
            Assert.DoesNotContain("   at ", run.Output); // no stack trace
        }
        var checkpoint = CheckpointFile.Load(Path.Combine(_out, CheckpointFile.LatestName));
        Assert.InRange(checkpoint.Epoch, 3, 200);

        // The printed command continues the run to the undisturbed hash.
        using var resumed = ChildNode.Start("Coordinator", "train", "--resume", _out, "--workers", workers.ToString(), "--plain");
        Assert.Equal(0, resumed.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.Contains($"final_weights_sha256 {Undisturbed()}", resumed.Output);
    }

    /// <summary>A coordinator process on a free port, once it listens; <paramref name="address"/> is what workers join.</summary>
    private ChildNode Coordinator(int minWorkers, int epochs, out string address)
    {
        var coordinator = ChildNode.Start("Coordinator", "coordinator", "--port", "0", "--min-workers", minWorkers.ToString(), "--epochs", epochs.ToString(),
            "--batch-size", "64", "--hidden", "32", "--train-limit", "640", "--test-limit", "100", "--plain", "--out", _out);
        coordinator.WaitFor("listening at akka.tcp://", TimeSpan.FromSeconds(60));
        address = System.Text.RegularExpressions.Regex.Match(coordinator.Output, @"listening at (akka\.tcp://\S+)").Groups[1].Value;
        return coordinator;
    }

    [Fact]
    public void A_multi_process_run_should_stop_on_SIGTERM_and_tell_its_worker_which_leaves()
    {
        // Long enough that the signal always lands mid-run (the run is stopped, not finished).
        using var coordinator = Coordinator(minWorkers: 1, epochs: 5000, out string address);
        using var worker = ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", "w1");
        coordinator.WaitFor("epoch 2/5000", TimeSpan.FromSeconds(60));
        coordinator.Signal("TERM");
        Assert.Equal(143, coordinator.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("interrupted (SIGTERM) at step", coordinator.Output);
        Assert.Contains($"continue with: coordinator --resume {_out} --min-workers 1", coordinator.Output);
        Assert.DoesNotContain("removed from the cluster", coordinator.Output);
        Assert.Equal(0, worker.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("the coordinator stopped run", worker.Output);
    }

    [Fact]
    public void A_worker_given_SIGTERM_should_leave_and_its_shards_go_to_the_others()
    {
        // Long enough that the signal always lands mid-run, on a fast machine too (30 epochs of
        // this subset once finished before the signal); the coordinator is stopped at the end.
        using var coordinator = Coordinator(minWorkers: 2, epochs: 5000, out string address);
        using var staying = ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", "staying");
        using var leaving = ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", "leaving");
        coordinator.WaitFor("epoch 2/5000", TimeSpan.FromSeconds(60));
        leaving.Signal("TERM");
        int code = leaving.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(code == 143, $"exit {code}; output:\n{leaving.Output}");
        Assert.Contains("stopping on SIGTERM: leaving the cluster", leaving.Output);
        // 10 steps of 4 shards per epoch: 20 shards per worker while both work, all 40 to the one left.
        staying.WaitFor(": 40 shards", TimeSpan.FromSeconds(60));
        Assert.Contains(": 20 shards", staying.Output);
        Assert.Contains("worker leaving", coordinator.Output);
        coordinator.Signal("TERM");
        Assert.Equal(143, coordinator.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, staying.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("the coordinator stopped run", staying.Output);
    }
}
