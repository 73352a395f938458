using System.Text.RegularExpressions;

namespace Distributed.Tests.Cluster;

/// <summary>deploy/chaos.sh: real processes, kill -9 mid-run, and the weights must not change.</summary>
public class ChaosScriptSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("chaos-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private (int Code, string Output) Chaos(string scenario, params string[] options) =>
        // Long enough (~700 steps, 2–3 s of training at the data plane's speed) for a kill 1 s in to land mid-run.
        DeployScript.Run("chaos.sh", [scenario, "--epochs", "3", "--train-limit", "30000", "--test-limit", "500", .. options],
            new Dictionary<string, string> { ["DIR"] = _folder, ["TIMEOUT"] = "240", ["KILL_AFTER"] = "1.0" }, TimeSpan.FromMinutes(6));

    [Fact]
    public void Killing_a_worker_process_mid_run_should_not_change_the_weights_and_recover_within_5_seconds()
    {
        var (code, output) = Chaos("worker");
        Assert.True(code == 0, output);
        Assert.Contains("same weights: yes", output);
        var recovery = Regex.Match(output, @"interrupted step completed at \S+ \(([0-9.]+) s after the kill\)");
        Assert.True(recovery.Success, output);
        Assert.True(double.Parse(recovery.Groups[1].Value) < 5.0, $"recovery took {recovery.Groups[1].Value} s:\n{output}");
        Assert.Contains("worker-4 registered", output);
    }

    [Fact]
    public void Killing_a_worker_process_mid_step_under_the_peer_exchange_should_cost_the_attempt_and_not_change_the_weights()
    {
        var (code, output) = Chaos("worker", "--exchange", "peers");
        Assert.True(code == 0, output);
        Assert.Contains("same weights: yes", output);
        Assert.Matches(@"step \d+ attempt \d+ lost worker-2 \(.*\); starting it again with \d worker\(s\)", output);
        Assert.Contains("worker-4 registered", output);
    }

    [Theory]
    [InlineData("coordinator")]
    [InlineData("peers")]
    public void Killing_the_active_coordinator_should_let_the_standby_finish_the_run_with_the_same_weights(string exchange)
    {
        var (code, output) = Chaos("coordinator-failover", "--exchange", exchange);
        Assert.True(code == 0, output);
        Assert.Contains("nothing started by hand", output);
        Assert.Matches(@"taking over run \S+ at step \d+ as term 2", output);
        Assert.Contains("same weights: yes", output);
        // Kill to the next completed step: the failure detector's ~3 s, then the steps since the snapshot.
        var going = Regex.Match(output, @"the first as term 2 at \S+ \(([0-9.]+) s after the kill\)");
        Assert.True(going.Success, output);
        Assert.True(double.Parse(going.Groups[1].Value) < 10.0, $"the run went on {going.Groups[1].Value} s after the kill:\n{output}");
    }

    [Fact]
    public void Killing_the_coordinator_and_resuming_it_should_not_change_the_weights()
    {
        var (code, output) = Chaos("coordinator");
        Assert.True(code == 0, output);
        Assert.Contains("resuming from", output);
        Assert.Contains("same weights: yes", output);
    }
}
