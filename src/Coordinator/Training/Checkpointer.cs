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
        // The last epoch's end is checkpointed too: resuming a finished run then says it is finished.
        bool due = epochEnded is not null || (everySteps > 0 && run.Step % everySteps == 0);
        if (!due) return;
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

    /// <summary>
    /// A stopped run (SIGINT/SIGTERM) at a step boundary: writes its checkpoint and returns the one
    /// line to print, with the command that continues it.
    /// </summary>
    public static string SaveStopped(string folder, TrainingRun run, string signal, string resumeCommand)
    {
        string where = $"step {run.Step} (epoch {run.Epoch}, batch {run.Batch})";
        try
        {
            string path = CheckpointFile.Save(folder, run.Capture());
            return $"interrupted ({signal}) at {where}: checkpoint written to {path}; continue with: {resumeCommand}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"interrupted ({signal}) at {where}: could not write a checkpoint ({e.Message}); the previous one in {folder} is kept; continue with: {resumeCommand}";
        }
    }

    /// <summary>Loads the run to continue from a folder's checkpoint, checking it against the data.</summary>
    /// <param name="note">Told when the latest checkpoint is corrupt and the previous one is used.</param>
    public static (TrainingRun Run, string Path) Resume(string folder, string? dataFolder, Action<string> note)
    {
        var (checkpoint, path) = CheckpointFile.LoadLatestGood(folder, note);
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
