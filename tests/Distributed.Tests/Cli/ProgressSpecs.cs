using Distributed.Coordinator.Progress;
using Distributed.Shared.Training;
using Distributed.Tests.Cluster;
using Spectre.Console.Testing;

namespace Distributed.Tests.Cli;

public class ProgressSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Hidden = [16], TrainLimit = 256, TestLimit = 50 };

    [Fact]
    public void The_live_display_should_show_bars_members_events_and_a_summary()
    {
        var console = new TestConsole().Width(140);
        var run = new TrainingRun(Options, TestData.Subset(256, 50));
        using (var live = new LiveProgress(console))
        {
            live.Message("coordinator: worker w1 registered");
            live.Step(run, [new MemberRow("coordinator", "akka.tcp://distributed@127.0.0.1:1", "coordinator", "up", 0, 0),
                new MemberRow("w1", "akka.tcp://distributed@127.0.0.1:2", "worker", "unreachable", 12, 0.75)]);
            Thread.Sleep(300);
            var result = new Coordinator.Training.LocalTrainer(run, _ => { }).Run();
            live.Finished(result, Options);
        }
        string output = console.Output;
        Assert.Contains("epoch", output);
        Assert.Contains("step", output);
        Assert.Contains("unreachable", output);
        Assert.Contains("0.75", output);
        Assert.Contains("coordinator: worker w1 registered", output);
        Assert.Contains("Summary", output);
        Assert.Contains("test acc", output);
    }

    [Theory]
    [InlineData(80, 24)]
    [InlineData(100, 30)]
    [InlineData(60, 16)]
    public void A_frame_should_fit_the_terminal_with_many_members_and_long_events(int width, int height)
    {
        var run = new TrainingRun(Options, TestData.Subset(256, 50));
        new Coordinator.Training.LocalTrainer(run, _ => { }).Run();
        var members = Enumerable.Range(0, 9).Select(i => new MemberRow(i == 0 ? "coordinator" : $"worker-{i}",
            $"akka.ssl.tcp://distributed@10.100.200.{i}:4{i:000}5", i == 0 ? "coordinator" : "worker", i == 3 ? "unreachable" : "up", 1000 * i, 0.5 * i)).ToList();
        var events = Enumerable.Range(0, 8).Select(i => $"event {i}: coordinator: worker worker-{i} at akka.ssl.tcp://distributed@10.100.200.{i}:4{i:000}5 is unreachable; 7 left; shards 1,2,3 of step 40 reassigned").ToList();
        var console = new TestConsole().Width(width);
        console.Write(LiveProgress.Frame(run, members, events, DateTime.UtcNow, width, height));
        var lines = console.Output.TrimEnd('\n').Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.True(lines.Count <= height - 1, $"{lines.Count} lines for a terminal of {height}:\n{console.Output}");
        Assert.All(lines, l => Assert.True(l.Length <= width, $"{l.Length} columns: {l}"));
        Assert.StartsWith("epoch", lines[0]);
        Assert.StartsWith("step", lines[1]);
        Assert.Contains(lines, l => l.Contains("10.100.200.1:40015") && !l.Contains("akka.ssl.tcp://distributed@10.100.200.1")); // one line per member, scheme dropped
        Assert.Contains("event 7", lines[^1]); // the newest event is kept
        if (height >= 24) Assert.Contains(lines, l => l.Contains("unreachable") && l.Contains("10.100.200.3"));
    }

    [Fact]
    public void Plain_progress_should_write_lines_and_a_one_line_summary()
    {
        var writer = new StringWriter();
        var run = new TrainingRun(Options, TestData.Subset(256, 50));
        using var plain = new PlainProgress(writer);
        var result = new Coordinator.Training.LocalTrainer(run, plain.Message).Run();
        plain.Finished(result, Options);
        string output = writer.ToString();
        Assert.Contains("epoch 1/1", output);
        Assert.Contains("summary: 1 epoch(s)", output);
        Assert.DoesNotContain("\u001b[", output); // no terminal escape codes in logs
    }

    [Fact]
    public async Task The_epoch_so_far_read_during_training_should_never_exceed_100_percent()
    {
        var options = new Distributed.Shared.Training.TrainingOptions { Epochs = 30, BatchSize = 16, Shards = 2, Hidden = [16], TrainLimit = 320, TestLimit = 20 };
        var run = new Distributed.Shared.Training.TrainingRun(options, Distributed.Tests.Cluster.TestData.Subset(320, 20));
        var training = Task.Run(() => new Distributed.Coordinator.Training.LocalTrainer(run, _ => { }).Run());
        double worst = 0;
        long reads = 0;
        while (!training.IsCompleted)
        {
            var (_, accuracy, _) = run.EpochSoFar;
            if (!double.IsNaN(accuracy)) worst = Math.Max(worst, accuracy);
            reads++;
        }
        await training;
        Assert.True(worst <= 1.0, $"read an accuracy of {worst:P1} ({reads} reads)");
        Assert.True(reads > 1000);
    }
}
