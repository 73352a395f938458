using System.Diagnostics;
using Akka.Actor;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Distributed.Worker;
using Distributed.Shared.Security;

namespace Distributed.Tests.Cluster;

/// <summary>Mutual TLS: only nodes with a certificate from the cluster's CA take part.</summary>
public class TlsSpecs : IDisposable
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 100 };
    private readonly string _folder = Directory.CreateTempSubdirectory("tls-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private TlsSettings Certificates(string ca, string node) => MakeCertificates(_folder, ca, node, Roles.Coordinator);

    /// <summary>Makes a CA (once per folder and name) and a node certificate for <paramref name="role"/> with deploy/make-certs.sh.</summary>
    public static TlsSettings MakeCertificates(string folder, string ca, string node, string role = Roles.Worker)
    {
        Directory.CreateDirectory(folder);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        var args = new List<string> { Path.Combine(RepositoryRoot.Path, "deploy", "make-certs.sh"), Path.Combine(folder, ca) };
        if (role == Roles.Coordinator) args.Add("--coordinator");
        args.Add(node);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, error);
        string dir = Path.Combine(folder, ca);
        return new TlsSettings(Path.Combine(dir, node + ".pfx"), File.ReadAllText(Path.Combine(dir, "password")).Trim(), Path.Combine(dir, "ca.crt"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Make_certs_should_keep_keys_and_the_password_private_and_out_of_git()
    {
        MakeCertificates(_folder, "private-ca", "node");
        string dir = Path.Combine(_folder, "private-ca");
        foreach (var secret in new[] { "password", "ca.key", "node.key", "node.pfx" })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, secret)));
        Assert.Contains("*", File.ReadAllLines(Path.Combine(dir, ".gitignore")));
        Assert.Contains("certs/", File.ReadAllLines(Path.Combine(RepositoryRoot.Path, ".gitignore")));
    }

    [Fact]
    public async Task Nodes_without_the_clusters_certificate_should_not_join_nor_disturb_the_run()
    {
        var data = TestData.Subset(640, 100);
        string undisturbed = new LocalTrainer(Options, data, _ => { }).Run().FinalWeightsSha256;
        var cluster = Certificates("cluster-ca", "node");
        var rogue = Certificates("rogue-ca", "rogue");
        var log = new List<string>();
        var intruders = new List<ActorSystem>();
        SimulatedCluster? simulated = null;
        simulated = SimulatedCluster.Start(new TrainingRun(Options, data), SimulationSpec.For(1) with { Tls = cluster },
            new RunHooks(l => { lock (log) log.Add(l); }) { OnStep = (run, _) =>
            {
                if (run.Step != 2) return;
                // Mid-run, a node with another CA's certificate and a node without TLS try to join.
                foreach (var (name, tls) in new[] { ("rogue-tls", (TlsSettings?)rogue), ("rogue-plain", null) })
                {
                    var seed = simulated!.Coordinator.Address.Replace("akka.ssl.tcp", ClusterSettings.Scheme(tls is not null));
                    intruders.Add(WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [seed], Tls: tls),
                        new WorkerActor.Settings(name, data.Train, 1, l => { lock (log) log.Add(l); }, AkkaRemoteTransport.Instance)));
                }
                Thread.Sleep(4000); // their join attempts happen while the run waits here
            } });
        try
        {
            await using (simulated)
            {
                Assert.StartsWith("akka.ssl.tcp://", simulated.Coordinator.Address);
                var outcome = await simulated.WaitAsync(TimeSpan.FromMinutes(2));
                Assert.Equal(undisturbed, outcome.Result.FinalWeightsSha256);
                Assert.Single(outcome.Workers);
            }
            lock (log)
            {
                Assert.DoesNotContain(log, l => l.Contains("rogue") && l.Contains("registered"));
                Assert.DoesNotContain(log, l => l.Contains("rogue") && l.Contains("joined run"));
                Assert.Contains(log, l => l.Contains("worker-1 registered"));
            }
        }
        finally
        {
            await Task.WhenAll(intruders.Select(s => s.Terminate()));
        }
    }

    [Fact]
    public async Task A_worker_whose_TLS_differs_from_the_clusters_should_say_so()
    {
        var data = TestData.Subset(64, 10);
        var tls = Certificates("ca", "node");
        var log = new List<string>();
        var systems = new List<ActorSystem>();
        try
        {
            foreach (var (clusterTls, workerTls) in new[] { ((TlsSettings?)tls, (TlsSettings?)null), (null, tls) })
            {
                var seed = new ClusterSettings(Roles.Coordinator, Tls: clusterTls).CreateSystem();
                systems.Add(seed);
                var address = Akka.Cluster.Cluster.Get(seed).SelfAddress;
                Akka.Cluster.Cluster.Get(seed).Join(address);
                // The worker's command line writes the scheme of its own TLS setting into the seed address.
                string seedAddress = $"{ClusterSettings.Scheme(workerTls is not null)}://{address.System}@{address.Host}:{address.Port}";
                systems.Add(WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [seedAddress], Tls: workerTls),
                    new WorkerActor.Settings(workerTls is null ? "plain" : "tls", data.Train, 1, l => { lock (log) log.Add(l); }, AkkaRemoteTransport.Instance,
                        NotJoinedAfter: TimeSpan.FromSeconds(2))));
            }
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline && Hints().Count < 2) await Task.Delay(100);
            var hints = Hints();
            Assert.Contains(hints, l => l.Contains("worker plain:") && l.Contains("plain TCP; if the cluster uses TLS, that is probably why"));
            Assert.Contains(hints, l => l.Contains("worker tls:") && l.Contains("this node uses TLS; the cluster must too"));
            Assert.Equal(2, hints.Count); // once each
        }
        finally
        {
            await Task.WhenAll(systems.Select(s => s.Terminate()));
        }

        List<string> Hints()
        {
            lock (log) return log.Where(l => l.Contains("not let into the cluster")).ToList();
        }
    }

    [Fact]
    public void A_wrong_certificate_password_should_be_a_clear_error()
    {
        var good = Certificates("ca", "node");
        var ex = Assert.Throws<DataFormatException>(() => (good with { Password = "wrong" }).ToSetup());
        Assert.Contains("node.pfx", ex.Message);
        Assert.Contains("wrong password?", ex.Message);
    }
}
