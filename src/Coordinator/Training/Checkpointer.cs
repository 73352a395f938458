using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>
/// Writes a checkpoint every <paramref name="everySteps"/> steps and at every epoch end. A failed
/// write is logged and training goes on: the previous checkpoint is untouched (writes are atomic).
/// </summary>
public sealed class Checkpointer(string folder, int everySteps, Action<string> log)
{
    public string Folder { get; } = folder;

    public void OnStep(TrainingRun run, EpochMetrics? epochEnded)
    {
        bool due = epochEnded is not null || (everySteps > 0 && run.Step % everySteps == 0);
        if (!due || run.Finished) return;
        var clock = Stopwatch.StartNew();
        try
        {
            string path = CheckpointFile.Save(Folder, run.Capture());
            if (epochEnded is not null) log($"checkpoint: step {run.Step} (epoch {run.Epoch}, batch {run.Batch}) written to {path} in {clock.ElapsedMilliseconds} ms");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"checkpoint: could not write step {run.Step} to {Folder} ({e.Message}); the previous checkpoint is kept");
        }
    }

    /// <summary>Loads the run to continue from a folder's checkpoint, checking it against the data.</summary>
    public static (TrainingRun Run, string Path) Resume(string folder, string? dataFolder)
    {
        string path = CheckpointFile.Locate(folder);
        var checkpoint = CheckpointFile.Load(path);
        var data = MnistLoader.Load(dataFolder ?? DataLocator.DefaultFolder(), checkpoint.Options.TrainLimit, checkpoint.Options.TestLimit);
        try
        {
            return (TrainingRun.Restore(checkpoint, data), path);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, e.Message);
        }
    }
}
