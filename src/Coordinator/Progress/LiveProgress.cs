using Distributed.Shared.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Distributed.Coordinator.Progress;

/// <summary>
/// The live display at a terminal (Spectre.Console): epoch and step bars with loss, samples/s and
/// ETA, a table of cluster members in cluster mode, the latest events, and a summary table at the
/// end. Redrawn at most ten times a second from whatever thread reports.
/// </summary>
public sealed class LiveProgress : IRunProgress
{
    private readonly IAnsiConsole _console;
    private readonly object _gate = new();
    private readonly Queue<string> _events = new();
    private readonly Task _display;
    private readonly CancellationTokenSource _stop = new();
    private TrainingRun? _run;
    private IReadOnlyList<MemberRow>? _members;
    private DateTime _started = DateTime.UtcNow;

    public LiveProgress(IAnsiConsole console)
    {
        _console = console;
        _display = Task.Run(() => _console.Live(Render()).AutoClear(false).Start(context =>
        {
            while (!_stop.IsCancellationRequested)
            {
                context.UpdateTarget(Render());
                Thread.Sleep(100);
            }
            context.UpdateTarget(Render());
        }));
    }

    public void Message(string line)
    {
        lock (_gate)
        {
            _events.Enqueue(line);
            while (_events.Count > 8) _events.Dequeue();
        }
    }

    public void Step(TrainingRun run, IReadOnlyList<MemberRow>? members)
    {
        lock (_gate)
        {
            if (_run is null) _started = DateTime.UtcNow;
            (_run, _members) = (run, members ?? _members);
        }
    }

    public void Finished(TrainingResult result, TrainingOptions options)
    {
        Dispose();
        var table = new Table().Title("Summary").AddColumns("epoch", "train loss", "train acc", "test loss", "test acc", "samples/s", "seconds");
        foreach (var e in result.Epochs)
            table.AddRow($"{e.Epoch}", $"{e.TrainLoss:F4}", $"{e.TrainAccuracy:P2}", $"{e.TestLoss:F4}", $"{e.TestAccuracy:P2}", $"{e.SamplesPerSecond:N0}", $"{e.TrainSeconds:F2}");
        _console.Write(table);
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _display.Wait();
    }

    private IRenderable Render()
    {
        lock (_gate)
        {
            var rows = new List<IRenderable>();
            if (_run is { } run)
            {
                int epochs = run.Options.Epochs;
                int epoch = Math.Min(run.Epoch, epochs);
                long total = (long)run.BatchesPerEpoch * epochs;
                double elapsed = (DateTime.UtcNow - _started).TotalSeconds;
                double done = Math.Max(1, run.StepsThisSession);
                double eta = (total - run.Step) * elapsed / done;
                var (loss, accuracy, seconds) = run.EpochSoFar;
                double rate = seconds > 0 ? Math.Min(run.Batch * run.Options.BatchSize, run.Data.Train.Count) / seconds : 0;
                rows.Add(new Markup($"[bold]epoch[/] {Bar((double)run.Step / total)} {epoch}/{epochs}   ETA {eta:F0} s"));
                if (run.Finished && run.Epochs.Count > 0)
                {
                    var last = run.Epochs[^1];
                    rows.Add(new Markup($"[bold]step [/] {Bar(1)} {run.BatchesPerEpoch}/{run.BatchesPerEpoch}   " +
                        $"loss {last.TrainLoss:F4}   acc {last.TrainAccuracy:P1}   {last.SamplesPerSecond:N0} samples/s   test acc {last.TestAccuracy:P2}"));
                }
                else if (run.Batch == 0)
                    rows.Add(new Markup($"[bold]step [/] {Bar(0)} 0/{run.BatchesPerEpoch}"));
                else
                    rows.Add(new Markup($"[bold]step [/] {Bar((double)run.Batch / run.BatchesPerEpoch)} {run.Batch}/{run.BatchesPerEpoch}   " +
                        $"loss {loss:F4}   acc {accuracy:P1}   {rate:N0} samples/s"));
            }
            else rows.Add(new Markup("[grey]waiting to start…[/]"));
            if (_members is { Count: > 0 } members)
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("member", "address", "role", "status", "shards done", "ms per shard");
                foreach (var m in members)
                    table.AddRow(Markup.Escape(m.Name), Markup.Escape(m.Address), m.Role, m.Status == "up" ? "[green]up[/]" : $"[red]{Markup.Escape(m.Status)}[/]",
                        $"{m.ShardsDone:N0}", m.ShardsDone == 0 ? "" : $"{m.MsPerShard:F2}");
                rows.Add(table);
            }
            foreach (var e in _events) rows.Add(new Text(e, new Style(Color.Grey)));
            return new Rows(rows);
        }
    }

    private static string Bar(double fraction, int width = 30)
    {
        int filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return $"[green]{new string('━', filled)}[/][grey]{new string('━', width - filled)}[/] {fraction,4:P0}";
    }
}
