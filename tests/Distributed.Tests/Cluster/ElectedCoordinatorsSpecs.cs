using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Distributed.Tests.Cluster;

/// <summary>
/// <c>coordinator --elect</c> as a StatefulSet runs it, with real processes: two coordinators with
/// the same command and both addresses as seeds. The first up leads; the second stands by; the
/// leader is killed with kill -9 and the second takes over; the first is started again with the
/// same command, as Kubernetes restarts a pod, and stands by for the one that took over instead of
/// starting a run of its own; then that standby is killed too. The run ends with the undisturbed hash.
/// </summary>
public sealed class ElectedCoordinatorsSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("elect-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private static readonly string[] Training = ["--epochs", "12", "--train-limit", "10000", "--test-limit", "500", "--plain"];


    private static string Hash(string folder) =>
        Regex.Match(File.ReadAllText(Path.Combine(folder, "metrics.json")), "\"final_weights_sha256\": \"([0-9a-f]{64})\"").Groups[1].Value;

    [Fact]
    public void The_oldest_leads_a_restarted_leader_stands_by_for_the_one_that_took_over_and_the_weights_do_not_change()
    {
        string undisturbed = Path.Combine(_folder, "undisturbed");
        using (var single = ChildNode.Start("Coordinator", ["train", "--workers", "0", "--out", undisturbed, .. Training]))
            Assert.Equal(0, single.WaitForExit(TimeSpan.FromMinutes(2)));

        int[] ports = FreePorts.Take(2);
        string[] seeds = [.. ports.SelectMany(p => new[] { "--seed-node", $"akka.tcp://distributed@127.0.0.1:{p}" })];
        ChildNode Coordinator(int i) => ChildNode.Start("Coordinator",
            ["coordinator", "--elect", "--port", ports[i].ToString(), .. seeds, "--min-workers", "2", "--checkpoint-every", "20", "--out", Path.Combine(_folder, $"c{i}"), .. Training]);
        var first = Coordinator(0);
        using var second = Coordinator(1);
        using var w1 = ChildNode.Start("Worker", [.. seeds, "--port", "0", "--threads", "1", "--name", "worker-1"]);
        using var w2 = ChildNode.Start("Worker", [.. seeds, "--port", "0", "--threads", "1", "--name", "worker-2"]);
        try
        {
            first.WaitFor("leading the run as term 1", TimeSpan.FromSeconds(60));
            // (It says "is the older coordinator; standing by" unless the leader's first snapshot comes first.)
            second.WaitFor("(term 1); first snapshot", TimeSpan.FromSeconds(60));
            second.WaitFor("standby: holds run", TimeSpan.FromSeconds(60));
            first.Signal("KILL");
            first.WaitForExit(TimeSpan.FromSeconds(10));
            second.WaitFor("the first as term 2", TimeSpan.FromSeconds(30));

            // Restarted with the same command: it joins the cluster the survivor leads, as the younger.
            using var restarted = Coordinator(0);
            restarted.WaitFor("(term 2); first snapshot", TimeSpan.FromSeconds(60));
            Assert.DoesNotContain("leading the run", restarted.Output);
            // A standby killed: the run goes on without it.
            restarted.Signal("KILL");
            Assert.Equal(0, second.WaitForExit(TimeSpan.FromMinutes(3)));
            Assert.Contains("the first as term 2", second.Output);
            Assert.Equal(Hash(undisturbed), Hash(Path.Combine(_folder, "c1")));
            Assert.Contains("\"mode\": \"multi-process cluster (standby coordinator that took the run over", File.ReadAllText(Path.Combine(_folder, "c1", "metrics.json")));
        }
        finally
        {
            first.Dispose();
        }
    }

    [Fact]
    public void A_standby_given_training_options_should_say_they_are_not_used_and_stop_cleanly_before_any_takeover()
    {
        using var standby = ChildNode.Start("Coordinator", "coordinator", "--standby", "--seed-node", $"akka.tcp://distributed@127.0.0.1:{FreePorts.One()}",
            "--port", "0", "--epochs", "5", "--lr", "0.5", "--plain", "--out", Path.Combine(_folder, "standby"));
        standby.WaitFor("waiting for the active coordinator's snapshots", TimeSpan.FromSeconds(60));
        Assert.Contains("warning: a standby continues the run with the options in the active coordinator's snapshots; --epochs, --lr are not used", standby.Output);
        standby.Signal("INT");
        Assert.Equal(130, standby.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("standby: stopped (SIGINT) before any takeover; nothing to save.", standby.Output);
    }
}
