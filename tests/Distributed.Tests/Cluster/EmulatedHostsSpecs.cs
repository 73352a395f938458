using System.Diagnostics;
using Distributed.Coordinator.Training;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A coordinator and two workers as real processes on three emulated hosts (network namespaces,
/// 1 Gbit/s tbf links, deploy/emulated-hosts.sh): the multi-host path ends with the hash of one
/// process, with either exchange (under the peer exchange the workers also link to each other across
/// the bridge). Skipped, saying why, where the machine refuses to create namespaces (not root, no ip).
/// </summary>
public sealed class EmulatedHostsSpecs : IDisposable
{
    private static readonly string Script = Path.Combine(RepositoryRoot.Path, "deploy", "emulated-hosts.sh");
    private readonly string _prefix = $"t{Environment.ProcessId % 100000}";
    private readonly string _out = Directory.CreateTempSubdirectory("hosts-").FullName;

    public void Dispose()
    {
        Run("down", _prefix);
        Directory.Delete(_out, true);
    }

    private static (int Code, string Output) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    [SkippableTheory]
    [InlineData("coordinator")]
    [InlineData("peers")]
    public void Two_workers_on_their_own_hosts_should_end_with_the_single_process_hash(string exchange)
    {
        var (code, output) = Run("up", "3", "1gbit", _prefix);
        Skip.If(code != 0 && (output.Contains("Operation not permitted") || output.Contains("needs ip")),
            $"this machine refuses to create network namespaces: {output.Trim()}");
        Assert.True(code == 0, output);
        Assert.Contains("3 hosts up at 1gbit", output);

        string[] training = ["--epochs", "1", "--batch-size", "64", "--hidden", "32", "--train-limit", "2560", "--test-limit", "200"];
        var data = TestData.Subset(2560, 200);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64, Hidden = [32], TrainLimit = 2560, TestLimit = 200 };
        string single = new LocalTrainer(options, data, _ => { }).Run().FinalWeightsSha256;

        using var coordinator = ChildNode.StartIn($"{_prefix}-h0", "Coordinator", [
            "coordinator", "--hostname", "10.213.0.1", "--port", "4053", "--data-port", "4054", "--min-workers", "2", .. training, "--exchange", exchange, "--plain", "--out", _out]);
        coordinator.WaitFor("listening at akka.tcp://", TimeSpan.FromSeconds(60));
        using var w1 = ChildNode.StartIn($"{_prefix}-h1", "Worker", "--coordinator", "10.213.0.1:4053", "--hostname", "10.213.0.2", "--threads", "1", "--name", "w1");
        using var w2 = ChildNode.StartIn($"{_prefix}-h2", "Worker", "--coordinator", "10.213.0.1:4053", "--hostname", "10.213.0.3", "--threads", "1", "--name", "w2");
        int exit = coordinator.WaitForExit(TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, coordinator.Output);
        Assert.Contains($"final_weights_sha256 {single}", coordinator.Output);
        Assert.Contains("registered from akka.tcp://distributed@10.213.0.2", coordinator.Output);
        Assert.Contains("registered from akka.tcp://distributed@10.213.0.3", coordinator.Output);
        Assert.Contains("tensor data plane on 10.213.0.1:4054", coordinator.Output);
        foreach (var worker in new[] { w1, w2 })
        {
            int workerExit = worker.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.True(workerExit == 0, $"worker exit {workerExit}:\n{worker.Output}");
            // Each worker reports its own link's load (bytes per step from its counters).
            Assert.Matches(@"sent [\d,]+ and received [\d,]+ bytes per step over \d+ steps", worker.Output);
            if (exchange == "peers") Assert.Contains("replica checked equal to the coordinator's weights 1 time(s)", worker.Output);
        }
        if (exchange == "peers") Assert.Contains("data plane: connected to peer akka.tcp://distributed@10.213.0.", w1.Output + w2.Output);
    }
}
