using System.CommandLine;
using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Worker;

/// <summary>The worker node's command line: joins a cluster and computes shards until the run finishes.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var seedNodes = new Option<string[]>("--seed-node") { Description = "Cluster seed node address, e.g. akka.tcp://distributed@10.0.0.5:4053 (repeatable).", AllowMultipleArgumentsPerToken = true };
        var coordinator = new Option<string?>("--coordinator") { Description = "Shorthand for --seed-node: the coordinator's host:port." };
        var hostname = new Option<string>("--hostname") { Description = "Address this node binds and advertises.", DefaultValueFactory = _ => "127.0.0.1" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address others use to reach this node, when --hostname is a bind address such as 0.0.0.0." };
        var port = new Option<int>("--port") { Description = "TCP port (0: chosen by the OS).", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Folder with the four MNIST IDX files (raw or .gz). Default: the bundled data/mnist." };
        var threads = new Option<int>("--threads") { Description = "Threads for matrix products.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var name = new Option<string>("--name") { Description = "Name in the coordinator's logs.", DefaultValueFactory = _ => $"{Environment.MachineName}-{Environment.ProcessId}" };
        var frameSize = new Option<int>("--frame-size") { Description = "Largest remote message in bytes.", DefaultValueFactory = _ => ClusterSettings.DefaultMaximumFrameSize };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve OpenTelemetry metrics for Prometheus at http://localhost:PORT/metrics." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "This node's certificate and key (PKCS#12 .pfx); enables mutual TLS." };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "The cluster's CA certificate: peers must chain to it." };
        var tlsPassword = new Option<string?>("--tls-password") { Description = $"Password of --tls-cert (default: ${TlsSettings.PasswordVariable})." };
        var root = new RootCommand("A Distributed worker node: joins the cluster, computes shard gradients for the coordinator.")
        {
            seedNodes, coordinator, hostname, publicHostname, port, data, threads, name, frameSize, tlsCert, tlsCa, tlsPassword, metricsPort,
        };
        root.SetAction(parse =>
        {
            string? cert = parse.GetValue(tlsCert), ca = parse.GetValue(tlsCa);
            var tls = cert is null && ca is null ? null
                : new TlsSettings(cert ?? "", parse.GetValue(tlsPassword) ?? Environment.GetEnvironmentVariable(TlsSettings.PasswordVariable) ?? "", ca ?? "");
            var seeds = (parse.GetValue(seedNodes) ?? []).ToList();
            if (parse.GetValue(coordinator) is { } c) seeds.Add($"{ClusterSettings.Scheme(tls is not null)}://{ClusterSettings.SystemName}@{c}");
            return Run(seeds, parse.GetValue(hostname)!, parse.GetValue(port), parse.GetValue(data), parse.GetValue(threads),
                parse.GetValue(name)!, parse.GetValue(frameSize), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, tls,
                parse.GetValue(publicHostname), parse.GetValue(metricsPort));
        });
        return root.Parse(args).Invoke();
    }

    public static int Run(IReadOnlyList<string> seeds, string hostname, int port, string? dataFolder, int threads, string name, int frameSize,
        TextWriter stdout, TextWriter stderr, TlsSettings? tls = null, string? publicHostname = null, int? metricsPort = null)
    {
        using var metrics = metricsPort is { } mp ? Distributed.Shared.Diagnostics.TrainingMetrics.StartPrometheus(mp) : null;
        if (tls is not null && (tls.CertificatePath.Length == 0 || tls.CaPath.Length == 0))
        {
            stderr.WriteLine("error: --tls-cert and --tls-ca go together: give both or neither.");
            return 1;
        }
        if (seeds.Count == 0)
        {
            stderr.WriteLine("error: give the coordinator's address with --coordinator host:port or --seed-node akka.tcp://distributed@host:port.");
            return 1;
        }
        if (threads <= 0 || port < 0 || port > 65535)
        {
            stderr.WriteLine($"error: --threads must be at least 1 and --port in 0–65535 (got {threads}, {port}).");
            return 1;
        }
        MnistData data;
        try
        {
            data = MnistLoader.Load(dataFolder ?? DataLocator.DefaultFolder());
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
        void Log(string line)
        {
            lock (stdout) stdout.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        }
        var finished = new TaskCompletionSource<RunFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new WorkerActor.Settings(name, data.Train, threads, Log, InlineTensorTransport.Instance, f => finished.TrySetResult(f));
        ActorSystem system;
        try
        {
            system = WorkerNode.Start(new ClusterSettings(Roles.Worker, hostname, port, seeds, frameSize, Tls: tls, PublicHostname: publicHostname), settings);
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
        Log($"worker {name}: node {Akka.Cluster.Cluster.Get(system).SelfAddress} joining {string.Join(", ", seeds)}; data {data.Folder} ({data.Train.Count} training images)");
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            finished.TrySetCanceled();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => finished.TrySetCanceled();
        int code = 0;
        try
        {
            // The node can also end on its own: downed by the split-brain resolver, or removed from the cluster.
            if (Task.WhenAny(finished.Task, system.WhenTerminated).GetAwaiter().GetResult() != finished.Task)
            {
                Log($"worker {name}: this node was removed from the cluster (downed or partitioned away from the coordinator); exiting");
                return 3;
            }
            finished.Task.GetAwaiter().GetResult();
        }
        catch (TaskCanceledException)
        {
            Log($"worker {name}: stopping on request");
            code = 130;
        }
        CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
        return code;
    }
}
