using Distributed.Coordinator.Reporting;
using ScottPlot;
using ScottPlot.Plottables;

namespace Distributed.Tests.Reporting;

/// <summary>The report's curves: coinciding lines stay distinguishable and the legend never covers data.</summary>
public sealed class RunReportSpecs
{
    private static readonly double[] Epochs = [1, 2, 3];

    [Fact]
    public void Workers_of_equal_speed_should_each_keep_a_visible_line_beside_the_total()
    {
        // Two workers at exactly the same rate draw the same points: only marker and dash tell them apart.
        var plot = RunReport.CurvesPlot("Samples/s", "samples/s", Epochs,
            ("total (cluster)", [20_000, 21_000, 21_500]), ("worker-1", [10_000, 10_500, 10_750]), ("worker-2", [10_000, 10_500, 10_750]));
        var lines = plot.GetPlottables().OfType<Scatter>().ToList();
        Assert.Equal(["total (cluster)", "worker-1", "worker-2"], lines.Select(l => l.LegendText));
        Assert.Equal(3, lines.Select(l => (l.MarkerShape, l.LinePattern.ToString())).Distinct().Count());
        Assert.True(lines[1].MarkerSize > lines[2].MarkerSize, "the line drawn first is the larger, so the one drawn over it does not hide it");
    }

    [Fact]
    public void The_legend_should_sit_outside_the_data_area()
    {
        var plot = RunReport.CurvesPlot("Loss", "loss", Epochs, ("train", [2.3, 0.4, 0.2]), ("test", [2.2, 0.5, 0.3]));
        Assert.False(plot.Legend.IsVisible); // the in-plot legend, which covered the curves' starts
        Assert.Contains(plot.Axes.GetPanels(), p => p.GetType().Name.Contains("Legend") && p.Edge == Edge.Right);
    }
}
