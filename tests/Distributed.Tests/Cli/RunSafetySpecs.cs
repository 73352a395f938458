using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Coordinator.Training;
using Distributed.Shared.Data;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Cli;

/// <summary>
/// What a run does with its folder and options when things go wrong: one run per --out, resume
/// that refuses contradictions and knows a finished run, no partial files on a full disk, a corrupt
/// latest checkpoint replaced by the previous one, out-of-range options refused, divergence named.
/// </summary>
public sealed class RunSafetySpecs : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("safety-").FullName;

    public void Dispose() => Directory.Delete(_out, true);

    private static (int Code, string Output, string Error) Run(params string[] args) => InProcess.Run(args);

    private string[] Small(params string[] more) =>
        ["train", "--workers", "0", "--train-limit", "640", "--test-limit", "100", "--epochs", "2", "--batch-size", "64", "--hidden", "32", "--plain", "--out", _out, .. more];

    [Fact]
    public void The_last_epoch_should_be_checkpointed_and_resuming_a_finished_run_should_say_so()
    {
        var (code, output, _) = Run(Small());
        Assert.Equal(0, code);
        string hash = System.Text.RegularExpressions.Regex.Match(output, "final_weights_sha256 ([0-9a-f]{64})").Groups[1].Value;
        var checkpoint = CheckpointFile.Load(Path.Combine(_out, CheckpointFile.LatestName));
        Assert.Equal((3, 20L), (checkpoint.Epoch, checkpoint.Step));

        var (again, said, _) = Run("train", "--resume", _out, "--plain");
        Assert.Equal(0, again);
        Assert.Contains($"is finished (2 epoch(s)", said);
        Assert.Contains($"final_weights_sha256 {hash}); nothing to resume", said);
        Assert.DoesNotContain("epoch 1/2", said);
    }

    [Fact]
    public void Resume_should_refuse_options_that_contradict_the_checkpoint_and_accept_equal_ones()
    {
        Assert.Equal(0, Run(Small("--checkpoint-every", "5")).Code);
        File.Delete(Path.Combine(_out, CheckpointFile.LatestName)); // resume from the previous (step 15 of 20)

        var (code, _, error) = Run("train", "--resume", _out, "--lr", "0.01", "--hidden", "64", "--epochs", "2", "--plain");
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains("--lr 0.01 (the checkpoint's run has 0.002)", error);
        Assert.Contains("--hidden 64 (the checkpoint's run has 32)", error);
        Assert.DoesNotContain("--epochs", error); // equal to the checkpoint's: no conflict

        var (resumed, output, _) = Run("train", "--resume", _out, "--epochs", "2", "--workers", "0", "--plain");
        Assert.Equal(0, resumed);
        Assert.Contains("resuming from", output);
    }

    [Fact]
    public void A_second_run_into_the_same_folder_should_be_refused_while_the_first_holds_it()
    {
        using (OutputLock.Acquire(_out))
        {
            var (code, _, error) = Run(Small());
            Assert.Equal(ExitCodes.OutputFailed, code);
            Assert.Contains("another run is writing to this folder", error);
        }
        Assert.Equal(0, Run(Small()).Code);
    }

    [Fact]
    public void A_run_killed_with_SIGKILL_should_leave_no_lock_behind()
    {
        using (var run = ChildNode.Start("Coordinator", [.. Small().Select(a => a == "2" ? "500" : a)]))
        {
            run.WaitFor("epoch 2/500", TimeSpan.FromSeconds(60));
            run.Signal("KILL");
            run.WaitForExit(TimeSpan.FromSeconds(10));
        }
        Assert.True(File.Exists(Path.Combine(_out, OutputLock.FileName)));
        Assert.Equal(0, Run(Small()).Code);
    }

    [Fact]
    public void A_write_failing_on_a_full_disk_should_leave_no_partial_file_and_keep_the_previous_checkpoint()
    {
        var run = new TrainingRun(new TrainingOptions { Hidden = [32], TrainLimit = 640, TestLimit = 100 }, TestData.Subset(640, 100));
        string saved = CheckpointFile.Save(_out, run.Capture());
        var good = File.ReadAllBytes(saved);
        Assert.Throws<IOException>(() => CheckpointFile.Save(_out, run.Capture(), path => new FullDisk(path, 4096)));
        Assert.Equal(good, File.ReadAllBytes(saved));
        Assert.Equal([CheckpointFile.LatestName], Directory.GetFiles(_out).Select(Path.GetFileName));

        string metrics = Path.Combine(_out, RunOutputs.MetricsFile);
        Assert.Throws<OutputException>(() => RunOutputs.WriteAtomically(metrics, path =>
        {
            using var disk = new FullDisk(path, 1000);
            disk.Write(new byte[5000]);
        }));
        Assert.False(File.Exists(metrics + ".tmp"));
    }

    /// <summary>A file on a disk with <paramref name="room"/> bytes free: writing past them fails as ENOSPC does.</summary>
    private sealed class FullDisk(string path, long room) : FileStream(path, FileMode.Create, FileAccess.Write)
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Position + buffer.Length > room) throw new IOException("No space left on device");
            base.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Position + count > room) throw new IOException("No space left on device");
            base.Write(buffer, offset, count);
        }
    }

    [Fact]
    public void A_corrupt_latest_checkpoint_should_fall_back_to_the_previous_one_saying_so()
    {
        Assert.Equal(0, Run(Small("--checkpoint-every", "4")).Code);
        string latest = Path.Combine(_out, CheckpointFile.LatestName);
        var bytes = File.ReadAllBytes(latest);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(latest, bytes);

        var notes = new List<string>();
        var (checkpoint, path) = CheckpointFile.LoadLatestGood(_out, notes.Add);
        Assert.Equal(CheckpointFile.PreviousName, Path.GetFileName(path));
        // Latest: step 20 (the end); previous: the one written before it, step 16 unless the disk fell
        // behind and a newer state replaced a waiting one (Checkpointer keeps one write in flight):
        // any earlier checkpoint point, every 4 steps or epoch 1's end (step 10).
        Assert.Contains(checkpoint.Step, new long[] { 4, 8, 10, 12, 16 });
        Assert.Contains("checksum mismatch", Assert.Single(notes));
        Assert.Contains("Resuming from the previous checkpoint", notes[0]);
    }

    [Fact]
    public void A_FIFO_or_a_hand_made_checkpoint_with_odd_contents_should_be_refused_in_one_line()
    {
        string fifo = Path.Combine(_out, "fifo.bin");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        Assert.Contains("not a regular file", Assert.Throws<DataFormatException>(() => CheckpointFile.Load(fifo)).Message);

        // A checkpoint whose options are out of range (as a hand-edited header would be), checksum intact.
        var run = new TrainingRun(new TrainingOptions { Hidden = [32], TrainLimit = 640, TestLimit = 100 }, TestData.Subset(640, 100));
        var odd = run.Capture() with { Options = run.Options with { Shards = -3 } };
        string path = CheckpointFile.Save(_out, odd);
        Assert.Contains("--shards must be at least 1", Assert.Throws<DataFormatException>(() => CheckpointFile.Load(path)).Message);
    }

    [Theory]
    [InlineData("--lr", "1e30", "--lr must be a positive number of at most 10")]
    [InlineData("--shards", "100000", "--shards must be at most 4096")]
    [InlineData("--hidden", "100000", "--hidden sizes must be in 1–16384")]
    [InlineData("--hidden", "16000,16000", "more than 100,000,000")]
    [InlineData("--epochs", "2000000000", "--epochs must be at most 100000")]
    [InlineData("--step-timeout", "1e300", "--step-timeout must be 0.01–86400 seconds")]
    [InlineData("--worker-timeout", "NaN", "--worker-timeout must be 0.01–86400 seconds")]
    [InlineData("--workers", "100000", "--workers must be 0 (single process) to 64")]
    public void Out_of_range_options_should_be_refused_before_reaching_the_arithmetic(string option, string value, string message)
    {
        var (code, _, error) = Run(["train", option, value, "--out", _out]);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void More_workers_than_shards_should_warn_that_some_sit_idle()
    {
        var (code, output, error) = Run([.. Small("--shards", "2").Select(a => a == "0" ? "3" : a)]);
        Assert.True(code == 0, error);
        Assert.Contains("warning: 3 workers share 2 shards per step, so 1 of them will sit idle", output);
    }

    [Fact]
    public void A_non_finite_loss_should_stop_the_run_before_the_optimizer_steps_and_name_the_divergence()
    {
        var run = new TrainingRun(new TrainingOptions { Hidden = [32], TrainLimit = 640, TestLimit = 100, LearningRate = 0.5f }, TestData.Subset(640, 100));
        var before = run.Model.FlattenValues();
        run.Start();
        var error = Assert.Throws<TrainingDivergedException>(() => run.CompleteStep(double.PositiveInfinity, 3));
        Assert.Contains("training diverged at step 0 (epoch 1, batch 0): the batch's loss is infinite. Lower --lr (it is 0.5)", error.Message);
        Assert.Equal(before, run.Model.FlattenValues());
        Assert.Equal(0, run.Step);

        // In the trainer: weights poisoned with a NaN make the loss NaN at once.
        var poisoned = new TrainingRun(run.Options, run.Data);
        var weights = poisoned.Model.FlattenValues();
        weights[0] = float.NaN;
        poisoned.Model.LoadValues(weights);
        Assert.Contains("the batch's loss is NaN", Assert.Throws<TrainingDivergedException>(() => new LocalTrainer(poisoned, _ => { }).Run()).Message);
    }
}
