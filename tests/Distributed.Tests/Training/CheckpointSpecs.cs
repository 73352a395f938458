using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Data;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Training;

public class CheckpointSpecs : IDisposable
{
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 100 };
    private static readonly MnistData Data = TestData.Subset(640, 100);
    private readonly string _folder = Directory.CreateTempSubdirectory("ckpt-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    /// <summary>A run stopped after <paramref name="steps"/> steps and checkpointed to disk.</summary>
    private string Interrupted(int steps, TrainingOptions? options = null)
    {
        var run = new TrainingRun(options ?? Options, Data);
        var trainer = new ShardedStep(run.Model, run.Options.Shards, 1, run.Options.Seed);
        run.Start();
        while (run.Step < steps)
        {
            var (start, count) = run.CurrentBatch;
            var (loss, correct) = trainer.Run(Data.Train, run.Order, start, count, run.Step);
            run.CompleteStep(loss, correct);
        }
        return CheckpointFile.Save(_folder, run.Capture());
    }

    private static string Uninterrupted(TrainingOptions? options = null) =>
        new LocalTrainer(options ?? Options, Data, _ => { }).Run().FinalWeightsSha256;

    [Theory]
    [InlineData(7)]   // mid-epoch
    [InlineData(10)]  // exactly at the epoch boundary
    public void Resuming_in_one_process_should_end_with_the_uninterrupted_hash(int steps)
    {
        Interrupted(steps);
        var (run, _) = Checkpointer.Resume(_folder, Data.Folder, _ => { });
        Assert.Equal(steps, run.Step);
        var result = new LocalTrainer(run, _ => { }).Run();
        Assert.Equal(Uninterrupted(), result.FinalWeightsSha256);
        Assert.Equal(2, result.Epochs.Count);
    }

    [Fact]
    public void Resuming_with_sgd_momentum_state_should_also_be_exact()
    {
        var sgd = Options with { Optimizer = OptimizerNames.Nesterov, LearningRate = 0.05f, Schedule = "constant" };
        Interrupted(13, sgd);
        var (run, _) = Checkpointer.Resume(_folder, Data.Folder, _ => { });
        Assert.Equal(Uninterrupted(sgd), new LocalTrainer(run, _ => { }).Run().FinalWeightsSha256);
    }

    [Fact]
    public void Resuming_a_convolutional_model_with_dropout_should_draw_the_masks_it_would_have_drawn()
    {
        // Dropout masks are keyed by the global step: a resumed run that counted steps from 0 again would end elsewhere.
        var cnn = Options with { Architecture = "conv4k3,relu,maxpool2,dropout0.25,flatten,dense16,relu,dropout0.5,dense10" };
        Interrupted(7, cnn);
        var (run, _) = Checkpointer.Resume(_folder, Data.Folder, _ => { });
        Assert.Equal(Uninterrupted(cnn), new LocalTrainer(run, _ => { }).Run().FinalWeightsSha256);
    }

    [Fact]
    public async Task Resuming_on_a_cluster_should_end_with_the_uninterrupted_hash()
    {
        Interrupted(5);
        var (run, _) = Checkpointer.Resume(_folder, Data.Folder, _ => { });
        var outcome = await ClusterSimulation.RunAsync(run, SimulationSpec.For(2), RunHooks.Silent, TimeSpan.FromMinutes(2));
        Assert.Equal(Uninterrupted(), outcome.Result.FinalWeightsSha256);
    }

    [Fact]
    public void A_checkpoint_should_round_trip_every_field()
    {
        string path = Interrupted(12);
        var c = CheckpointFile.Load(path);
        Assert.Equal((12L, 2, 2), (c.Step, c.Epoch, c.Batch));
        Assert.Single(c.Epochs);
        Assert.Equal(Options.Hidden, c.Options.Hidden);
        Assert.Equal("adam", c.Optimizer.Kind);
        Assert.Equal(12, c.Optimizer.Steps);
        Assert.Equal(2 * 4, c.Optimizer.Slots.Length);
        Assert.Equal(Data.Train.Fingerprint(640), c.DataFingerprint);
    }

    [Fact]
    public void A_snapshot_in_memory_should_hold_the_files_very_bytes_and_refuse_corruption()
    {
        string path = Interrupted(12);
        var c = CheckpointFile.Load(path);
        // What a standby is sent is the file's layout, byte for byte (the creation time included).
        var bytes = CheckpointFile.ToBytes(c);
        Assert.Equal(File.ReadAllBytes(path), bytes);
        var back = CheckpointFile.Parse(bytes, "snapshot");
        Assert.Equal(c.Step, back.Step);
        Assert.Equal(c.Weights, back.Weights);
        Assert.Equal(c.Optimizer.Slots[3], back.Optimizer.Slots[3]);
        bytes[bytes.Length / 2] ^= 1;
        Assert.Contains("checksum mismatch", Assert.Throws<DataFormatException>(() => CheckpointFile.Parse(bytes, "snapshot")).Message);
    }

    [Fact]
    public void Saving_again_should_keep_the_previous_checkpoint_and_ignore_a_half_written_one()
    {
        Interrupted(3);
        Interrupted(6);
        Assert.Equal(3, CheckpointFile.Load(Path.Combine(_folder, CheckpointFile.PreviousName)).Step);
        File.WriteAllText(Path.Combine(_folder, CheckpointFile.LatestName + ".tmp"), "half a checkpoint");
        Assert.Equal(6, CheckpointFile.Load(CheckpointFile.Locate(_folder)).Step);
    }

    [Fact]
    public void A_corrupt_checkpoint_should_be_refused_and_left_in_place()
    {
        string path = Interrupted(4);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<DataFormatException>(() => CheckpointFile.Load(path));
        Assert.Contains("checksum mismatch", ex.Message);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_truncated_or_foreign_file_should_be_refused_with_the_reason()
    {
        string path = Interrupted(4);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..1000]);
        Assert.Contains("corrupt or truncated", Assert.Throws<DataFormatException>(() => CheckpointFile.Load(path)).Message);
        File.WriteAllText(path, "{\"weights\": []}");
        Assert.Contains("not a checkpoint of this program", Assert.Throws<DataFormatException>(() => CheckpointFile.Load(path)).Message);
    }

    [Fact]
    public void Resuming_on_other_data_should_be_refused()
    {
        Interrupted(4);
        var ex = Assert.Throws<InvalidDataException>(() =>
            TrainingRun.Restore(CheckpointFile.Load(CheckpointFile.Locate(_folder)), TestData.Subset(600, 100)));
        Assert.Contains("trained on 640 images", ex.Message);
    }

    [Fact]
    public void Train_resume_from_a_corrupt_checkpoint_should_exit_2_and_name_the_file()
    {
        string path = Interrupted(4);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..500]);
        var error = new StringWriter();
        int code = Program.Run(["train", "--workers", "0", "--resume", _folder, "--data", Data.Folder], new StringWriter(), error);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(path, error.ToString());
        Assert.Contains("checksum mismatch", error.ToString());
    }

    [Fact]
    public void Train_resume_from_a_folder_without_checkpoint_should_exit_2()
    {
        var error = new StringWriter();
        int code = Program.Run(["train", "--workers", "0", "--resume", _folder], new StringWriter(), error);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("no checkpoint to resume from", error.ToString());
    }
}
