using System.Net;
using System.Text;
using System.Text.Json;
using Distributed.Coordinator.Training;
using Distributed.Shared.Training;
using ScottPlot;

namespace Distributed.Coordinator.Reporting;

/// <summary>Per-epoch throughput of one worker (cluster runs).</summary>
public sealed record WorkerEpoch(string Worker, int Epoch, int Samples, double SamplesPerSecond);

/// <summary>
/// The pictures of a run (PNG, rendered with ScottPlot): loss and accuracy curves per epoch, samples/s
/// per epoch (per worker in cluster runs), the test-set confusion matrix; and report.html, one
/// self-contained page with them, the configuration and the final figures.
/// </summary>
public static class RunReport
{
    public const string LossPlot = "loss.png";
    public const string AccuracyPlot = "accuracy.png";
    public const string ThroughputPlot = "throughput.png";
    public const string ConfusionPlot = "confusion.png";
    public const string HtmlFile = "report.html";

    public static IReadOnlyList<string> Write(string folder, string mode, TrainingOptions options, TrainingResult result, Evaluation test,
        IReadOnlyList<WorkerEpoch>? workers = null)
    {
        var epochs = result.Epochs;
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var written = new List<string>
        {
            Curves(folder, LossPlot, "Loss per epoch", "mean cross-entropy", x,
                ("train", epochs.Select(e => e.TrainLoss)), ("test", epochs.Select(e => e.TestLoss))),
            Curves(folder, AccuracyPlot, "Accuracy per epoch", "accuracy (%)", x,
                ("train", epochs.Select(e => 100 * e.TrainAccuracy)), ("test", epochs.Select(e => 100 * e.TestAccuracy))),
            Curves(folder, ThroughputPlot, workers is { Count: > 0 } ? "Samples/s: the cluster and each worker" : "Training samples/s", "samples/s", x,
                ThroughputSeries(epochs, x, workers)),
            Confusion(folder, test),
        };
        written.Add(Html(folder, mode, options, result, test, workers));
        return written;
    }

    /// <summary>The run's total per epoch, then each worker's (cluster runs): workers of equal speed draw the same line, so each gets its own marker and dash.</summary>
    private static (string Label, IEnumerable<double> Values)[] ThroughputSeries(IReadOnlyList<EpochMetrics> epochs, double[] x, IReadOnlyList<WorkerEpoch>? workers)
    {
        if (workers is not { Count: > 0 }) return [("this process", epochs.Select(e => e.SamplesPerSecond))];
        var total = ("total (cluster)", epochs.Select(e => e.SamplesPerSecond));
        var each = workers.GroupBy(w => w.Worker).OrderBy(g => g.Key)
            .Select(g => (g.Key, x.Select(e => g.FirstOrDefault(w => w.Epoch == (int)e)?.SamplesPerSecond ?? 0)));
        return [total, .. each];
    }

    private static readonly MarkerShape[] Markers = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond,
        MarkerShape.OpenCircle, MarkerShape.OpenSquare, MarkerShape.OpenTriangleUp, MarkerShape.OpenDiamond];

    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    private static string Curves(string folder, string file, string title, string yLabel, double[] x, params (string Label, IEnumerable<double> Values)[] series)
    {
        string path = Path.Combine(folder, file);
        CurvesPlot(title, yLabel, x, series).SavePng(path, 800, 480);
        return path;
    }

    /// <summary>
    /// Lines that may coincide stay visible: each series has its own marker and dash, earlier ones
    /// drawn larger beneath later ones. The legend sits right of the data, never over it.
    /// </summary>
    internal static Plot CurvesPlot(string title, string yLabel, double[] x, params (string Label, IEnumerable<double> Values)[] series)
    {
        var plot = new Plot();
        for (int i = 0; i < series.Length; i++)
        {
            var line = plot.Add.Scatter(x, series[i].Values.ToArray());
            line.LegendText = series[i].Label;
            line.MarkerShape = Markers[i % Markers.Length];
            line.LinePattern = Patterns[i % Patterns.Length];
            line.MarkerSize = Math.Max(5, 11 - 2 * i);
            line.LineWidth = Math.Max(1.5f, 3 - 0.5f * i);
        }
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static string Confusion(string folder, Evaluation test)
    {
        int k = test.Classes;
        var counts = new double[k, k];
        for (int a = 0; a < k; a++)
            for (int p = 0; p < k; p++) counts[a, p] = test.Confusion[a, p];
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(counts);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        // Cell (actual a, predicted p) is drawn at x = p, y = k − 1 − a (row 0 at the top).
        for (int a = 0; a < k; a++)
            for (int p = 0; p < k; p++)
            {
                var text = plot.Add.Text(test.Confusion[a, p].ToString(), p, k - 1 - a);
                text.LabelFontColor = a == p ? Colors.Black : Colors.White;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 11;
            }
        plot.Title($"Test confusion matrix ({test.Accuracy:P2} of {test.Samples})");
        plot.XLabel("predicted");
        plot.YLabel("actual");
        double[] positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, positions.Select(p => ((int)p).ToString()).ToArray());
        plot.Axes.Left.SetTicks(positions, positions.Select(p => (k - 1 - (int)p).ToString()).ToArray());
        string path = Path.Combine(folder, ConfusionPlot);
        plot.SavePng(path, 720, 640);
        return path;
    }

    private static string Html(string folder, string mode, TrainingOptions options, TrainingResult result, Evaluation test, IReadOnlyList<WorkerEpoch>? workers)
    {
        string Image(string file) => $"<img alt=\"{file}\" src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(Path.Combine(folder, file)))}\">";
        string E(object? v) => WebUtility.HtmlEncode(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "");
        var html = new StringBuilder();
        html.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Distributed training report</title><style>")
            .Append("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}img{max-width:100%;margin:0.5em 0}")
            .Append("code{background:#f3f3f3;padding:1px 4px}</style></head><body>");
        html.Append("<h1>Training report</h1>");
        html.Append($"<p>{E(mode)} · final test accuracy <b>{result.Epochs[^1].TestAccuracy:P2}</b> · {result.TotalSeconds:F1} s · ")
            .Append($"final_weights_sha256 <code>{E(result.FinalWeightsSha256)}</code></p>");
        html.Append("<h2>Configuration</h2><table>");
        using (var config = JsonDocument.Parse(JsonSerializer.Serialize(options, RunOutputs.Json)))
            foreach (var p in config.RootElement.EnumerateObject())
                html.Append($"<tr><th>{E(p.Name)}</th><td>{E(p.Value.ToString())}</td></tr>");
        html.Append("</table><h2>Epochs</h2><table><tr><th>epoch</th><th>train loss</th><th>train acc</th><th>test loss</th><th>test acc</th><th>samples/s</th><th>seconds</th></tr>");
        foreach (var e in result.Epochs)
            html.Append($"<tr><td>{e.Epoch}</td><td>{e.TrainLoss:F4}</td><td>{e.TrainAccuracy:P2}</td><td>{e.TestLoss:F4}</td><td>{e.TestAccuracy:P2}</td><td>{e.SamplesPerSecond:N0}</td><td>{e.TrainSeconds:F2}</td></tr>");
        html.Append("</table>");
        html.Append(Image(LossPlot)).Append(Image(AccuracyPlot)).Append(Image(ThroughputPlot));
        if (workers is { Count: > 0 })
        {
            html.Append("<h2>Workers</h2><table><tr><th>worker</th><th>epoch</th><th>samples</th><th>samples/s</th></tr>");
            foreach (var w in workers.OrderBy(w => w.Worker).ThenBy(w => w.Epoch))
                html.Append($"<tr><td>{E(w.Worker)}</td><td>{w.Epoch}</td><td>{w.Samples}</td><td>{w.SamplesPerSecond:N0}</td></tr>");
            html.Append("</table>");
        }
        html.Append("<h2>Test set</h2><table><tr><th>class</th><th>precision</th><th>recall</th></tr>");
        for (int c = 0; c < test.Classes; c++) html.Append($"<tr><td>{c}</td><td>{test.Precision(c):P2}</td><td>{test.Recall(c):P2}</td></tr>");
        html.Append("</table>").Append(Image(ConfusionPlot)).Append("</body></html>");
        string path = Path.Combine(folder, HtmlFile);
        File.WriteAllText(path, html.ToString());
        return path;
    }
}
