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
        lock (_gate) return Frame(_run, _members, [.. _events], _started, _console.Profile.Width, _console.Profile.Height);
    }

    /// <summary>
    /// One frame, fitted to a terminal of <paramref name="width"/> × <paramref name="height"/> (80×24
    /// included): the bars shrink to the width, figures get their own line, addresses lose the
    /// scheme, and members and events are cut to the lines left, newest events kept.
    /// </summary>
    internal static IRenderable Frame(TrainingRun? run, IReadOnlyList<MemberRow>? members, IReadOnlyList<string> events, DateTime started, int width, int height)
    {
        var rows = new List<IRenderable>();
        int barWidth = Math.Clamp(width - 36, 8, 40);
        if (run is not null) rows.AddRange(Bars(run, started, barWidth, width));
        else rows.Add(new Markup("[grey]waiting to start…[/]"));
        int left = height - rows.Count - 1; // the cursor's line
        if (members is { Count: > 0 } && left >= 6)
        {
            int fit = Math.Min(members.Count, left - 4 - 1); // borders and header; leave a line for the latest event
            rows.Add(MemberTable(members, fit, width));
            left -= fit + 4;
        }
        foreach (var e in events.Skip(Math.Max(0, events.Count - Math.Max(0, left))))
            rows.Add(new Text(Fit(e, width - 1), new Style(Color.Grey)));
        return new Rows(rows);
    }

    private static IEnumerable<IRenderable> Bars(TrainingRun run, DateTime started, int barWidth, int width)
    {
        int epochs = run.Options.Epochs;
        long total = (long)run.BatchesPerEpoch * epochs;
        double elapsed = (DateTime.UtcNow - started).TotalSeconds;
        double eta = (total - run.Step) * elapsed / Math.Max(1, run.StepsThisSession);
        yield return new Markup($"[bold]epoch[/] {Bar((double)run.Step / total, barWidth)} {Math.Min(run.Epoch, epochs)}/{epochs}  ETA {eta:F0} s");
        if (run.Finished && run.Epochs.Count > 0)
        {
            var last = run.Epochs[^1];
            yield return new Markup($"[bold]step [/] {Bar(1, barWidth)} {run.BatchesPerEpoch}/{run.BatchesPerEpoch}");
            yield return new Text(Fit($"loss {last.TrainLoss:F4}  acc {last.TrainAccuracy:P1}  {last.SamplesPerSecond:N0} samples/s  test acc {last.TestAccuracy:P2}", width - 1));
            yield break;
        }
        yield return new Markup($"[bold]step [/] {Bar((double)run.Batch / run.BatchesPerEpoch, barWidth)} {run.Batch}/{run.BatchesPerEpoch}");
        if (run.Batch == 0) yield break;
        var (loss, accuracy, seconds) = run.EpochSoFar;
        double rate = seconds > 0 ? Math.Min(run.Batch * run.Options.BatchSize, run.Data.Train.Count) / seconds : 0;
        yield return new Text(Fit($"loss {loss:F4}  acc {accuracy:P1}  {rate:N0} samples/s", width - 1));
    }

    private sealed record MemberColumn(string Header, int Priority, Func<MemberRow, string> Text, Func<MemberRow, string>? Markup = null);

    // Left to right as shown; the lowest priorities are dropped first when the terminal is narrow.
    private static readonly MemberColumn[] Columns =
    [
        new("member", 0, m => m.Name),
        new("address", 2, m => HostAndPort(m.Address)),
        new("status", 1, m => m.Status, m => m.Status == "up" ? "[green]up[/]" : $"[red]{Markup.Escape(m.Status)}[/]"),
        new("shards", 3, m => $"{m.ShardsDone:N0}"),
        new("ms/shard", 4, m => m.ShardsDone == 0 ? "" : $"{m.MsPerShard:F2}"),
    ];

    /// <summary>The members, one line each: columns that would make a row wrap are left out.</summary>
    private static Table MemberTable(IReadOnlyList<MemberRow> members, int fit, int width)
    {
        int shown = fit < members.Count ? fit - 1 : members.Count;
        var rows = members.Take(shown).ToList();
        string more = shown < members.Count ? $"… {members.Count - shown} more" : "";
        int Width(MemberColumn c) => rows.Select(c.Text).Append(c.Header).Append(c.Priority == 0 ? more : "").Max(t => t.Length) + 3;
        var kept = new HashSet<MemberColumn>();
        int used = 1;
        foreach (var c in Columns.OrderBy(c => c.Priority))
            if (used + Width(c) <= width || kept.Count == 0) { kept.Add(c); used += Width(c); }
        var columns = Columns.Where(kept.Contains).ToList();
        var table = new Table().Border(TableBorder.Rounded).AddColumns(columns.Select(c => c.Header).ToArray());
        foreach (var m in rows) table.AddRow(columns.Select(c => c.Markup?.Invoke(m) ?? Markup.Escape(c.Text(m))).ToArray());
        if (more.Length > 0) table.AddRow(columns.Select(c => c.Priority == 0 ? more : "").ToArray());
        return table;
    }

    /// <summary>akka.ssl.tcp://distributed@10.0.0.5:4053 → 10.0.0.5:4053: the scheme and system name are the same for every member.</summary>
    internal static string HostAndPort(string address) => address.LastIndexOf('@') is int at and >= 0 ? address[(at + 1)..] : address;

    private static string Fit(string line, int width) => line.Length <= width ? line : line[..Math.Max(0, width - 1)] + "…";

    private static string Bar(double fraction, int width)
    {
        int filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return $"[green]{new string('━', filled)}[/][grey]{new string('━', width - filled)}[/] {fraction,4:P0}";
    }
}
