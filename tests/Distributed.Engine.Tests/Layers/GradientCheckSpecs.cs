using Distributed.Shared.Diagnostics;

namespace Distributed.Tests.Layers;

public class GradientCheckSpecs
{
    private static readonly IReadOnlyList<GradientCheckRow> Report = GradientCheckReport.Run(seed: 1);

    public static TheoryData<string> Checks() => new(Report.Select(r => r.Check));

    [Theory]
    [MemberData(nameof(Checks))]
    public void Every_check_in_the_gradient_report_should_pass(string check)
    {
        var row = Report.Single(r => r.Check == check);
        Assert.True(row.Passed, $"{row.Check}: {row.Measure} = {row.Value:E2}, limit {row.Limit:E0}");
    }

    [Fact]
    public void The_report_should_cover_every_layer_loss_and_both_model_paths()
    {
        string all = string.Join('\n', Report.Select(r => r.Check));
        foreach (var part in new[] { "Dense", "ReLU", "Conv2d", "padding 1", "stride 2", "MaxPool2d", "Dropout 0.5 (training mask)", "CNN conv→relu→pool→dropout→flatten→dense", "Softmax (row-wise VJP)", "CrossEntropy (one-hot", "CrossEntropy (soft",
                     "SoftmaxCrossEntropy (one-hot", "SoftmaxCrossEntropy (soft", "fused loss, all parameters",
                     "Softmax → CrossEntropy, all parameters", "±1000", "Wrong softmax backward" })
            Assert.Contains(part, all);
    }

    [Fact]
    public void The_wrong_softmax_backward_should_be_far_off_not_marginally()
    {
        var bug = Report.Single(r => r.ExpectFailure);
        Assert.True(bug.Value > 1e-2, $"the classic bug's error was only {bug.Value:E2}");
    }

    [Fact]
    public void Results_should_not_depend_on_the_seed_of_the_report()
    {
        Assert.All(GradientCheckReport.Run(seed: 7), r => Assert.True(r.Passed, r.Check));
    }
}
