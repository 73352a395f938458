using System.Diagnostics;
using System.Threading.Channels;
using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>
/// Writes a checkpoint every <paramref name="everySteps"/> steps and at every epoch end. The step's
/// state is captured on the caller's thread (a copy in memory); the file is written, flushed to
/// disk and renamed on a background writer, in order, so the training loop or coordinator actor
/// does not wait for the disk. At most one write is in flight and one waits; a newer state
/// replaces the waiting one (logged), so the latest state always reaches the disk. A failed write
/// is logged and training goes on: the previous checkpoint is untouched (writes are atomic).
/// <see cref="Dispose"/> waits for pending writes.
/// </summary>
public sealed class Checkpointer : IDisposable
{
    private readonly int _everySteps;
    private readonly Action<string> _log;
    private readonly Channel<(Checkpoint State, bool EpochEnded)> _pending;
    private readonly Task _writer;
    private readonly Func<string, Checkpoint, string> _save;

    /// <param name="save">Writes one checkpoint into the folder and returns its path (specs pass a slow or failing disk).</param>
    public Checkpointer(string folder, int everySteps, Action<string> log, Func<string, Checkpoint, string>? save = null)
    {
        (Folder, _everySteps, _log, _save) = (folder, everySteps, log, save ?? CheckpointFile.Save);
        // One write in flight and one waiting: a newer state replaces the waiting one, so a disk
        // slower than the checkpoint interval costs older checkpoints, not memory or the step.
        _pending = Channel.CreateBounded<(Checkpoint State, bool EpochEnded)>(
            new BoundedChannelOptions(1) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest },
            dropped => _log($"checkpoint: the disk is behind; step {dropped.State.Step}'s checkpoint is skipped for a newer one"));
        _writer = Task.Run(WriteAll);
    }

    public string Folder { get; }

    public void OnStep(TrainingRun run, EpochMetrics? epochEnded)
    {
        if (IsDue(run, epochEnded is not null, _everySteps)) _pending.Writer.TryWrite((run.Capture(), epochEnded is not null));
    }

    /// <summary>
    /// Whether the state at the start of the run's step is checkpointed (and sent to standbys):
    /// every <paramref name="everySteps"/> steps and at every epoch end, the last one's too
    /// (resuming a finished run then says it is finished), provided the model holds that state.
    /// Under the peer exchange it may be behind the run between the points it takes the replicas' state.
    /// </summary>
    public static bool IsDue(TrainingRun run, bool epochEnded, int everySteps) =>
        run.Unapplied == 0 && (epochEnded || (everySteps > 0 && run.Step % everySteps == 0));

    /// <summary>Waits until every captured checkpoint is on disk (or its failure logged).</summary>
    public void Dispose()
    {
        _pending.Writer.TryComplete();
        _writer.GetAwaiter().GetResult();
    }

    private async Task WriteAll()
    {
        await foreach (var (state, epochEnded) in _pending.Reader.ReadAllAsync())
        {
            var clock = Stopwatch.StartNew();
            try
            {
                string path = _save(Folder, state);
                if (epochEnded) _log($"checkpoint: step {state.Step} (epoch {state.Epoch}, batch {state.Batch}) written to {path} in {clock.ElapsedMilliseconds} ms");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log($"checkpoint: could not write step {state.Step} to {Folder} ({e.Message}); the previous checkpoint is kept");
            }
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
