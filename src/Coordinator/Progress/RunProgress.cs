using Distributed.Shared.Training;

namespace Distributed.Coordinator.Progress;

/// <summary>A cluster member as the progress display shows it.</summary>
public sealed record MemberRow(string Name, string Address, string Role, string Status, int ShardsDone, double MsPerShard);

/// <summary>
/// What a run shows while it trains: its log lines, every completed step (with the cluster's
/// members in cluster mode), and a summary at the end. Implementations: plain lines for logs and
/// pipes, a live display at a terminal.
/// </summary>
public interface IRunProgress : IDisposable
{
    void Message(string line);

    void Step(TrainingRun run, IReadOnlyList<MemberRow>? members);

    void Finished(TrainingResult result, TrainingOptions options);
}

/// <summary>Plain lines, for output that is not a terminal (CI, a pipe, a log file).</summary>
public sealed class PlainProgress(TextWriter output) : IRunProgress
{
    public void Message(string line)
    {
        lock (output) output.WriteLine(line);
    }

    public void Step(TrainingRun run, IReadOnlyList<MemberRow>? members) { }

    public void Finished(TrainingResult result, TrainingOptions options)
    {
        lock (output)
        {
            output.WriteLine($"summary: {result.Epochs.Count} epoch(s) in {result.TotalSeconds:F1} s; " +
                $"best test accuracy {result.Epochs.Max(e => e.TestAccuracy):P2} (epoch {result.Epochs.MaxBy(e => e.TestAccuracy)!.Epoch}); " +
                $"mean {result.Epochs.Average(e => e.SamplesPerSecond):N0} samples/s");
        }
    }

    public void Dispose() { }
}
