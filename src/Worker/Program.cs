using System.CommandLine;
using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Lifetime;
using Distributed.Shared.Data;
using Distributed.Shared.Diagnostics;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Distributed.Shared.Security;

namespace Distributed.Worker;

/// <summary>
/// The worker node's command line: joins a cluster and computes shards until the run finishes.
/// Network settings come from appsettings.json, DISTRIBUTED_* environment variables and these
/// options (see <see cref="NodeConfiguration"/>); the options win.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var seedNodes = new Option<string[]>("--seed-node") { Description = "Cluster seed node address, e.g. akka.tcp://distributed@10.0.0.5:4053 (repeatable). [Node:SeedNodes]", AllowMultipleArgumentsPerToken = true };
        var coordinator = new Option<string?>("--coordinator") { Description = "Shorthand for --seed-node: the coordinator's host:port." };
        var hostname = new Option<string?>("--hostname") { Description = "Address this node binds (default 127.0.0.1). [Node:Hostname]" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address others use to reach this node, when --hostname is a bind address such as 0.0.0.0. [Node:PublicHostname]" };
        var port = new Option<int?>("--port") { Description = "TCP port (default 0: chosen by the OS). [Node:Port]" };
        var frameSize = new Option<int?>("--frame-size") { Description = $"Largest remote message in bytes (default {ClusterSettings.DefaultMaximumFrameSize}). [Node:MaximumFrameSize]" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve OpenTelemetry metrics for Prometheus at http://localhost:PORT/metrics. [Node:MetricsPort]" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "This node's certificate and key (PKCS#12 .pfx); enables mutual TLS. [Node:Tls:Certificate]" };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "The cluster's CA certificate: peers must chain to it. [Node:Tls:Ca]" };
        var tlsPassword = new Option<string?>("--tls-password") { Description = $"Password of --tls-cert (default: ${TlsSettings.PasswordVariable}). [Node:Tls:Password]" };
        var healthPort = new Option<int?>("--health-port") { Description = "Serve GET /health/live and /health/ready (Kubernetes probes) on this port. [Node:HealthPort]" };
        var noDataPlane = new Option<bool>("--no-data-plane") { Description = "Refuse the coordinator's tensor data plane: weights and gradients over Akka.Remote. [Node:DataPlane=false]" };
        var data = new Option<string?>("--data") { Description = "Folder with the four MNIST IDX files (raw or .gz). Default: the bundled data/mnist." };
        var threads = new Option<int>("--threads") { Description = "Threads for matrix products.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var name = new Option<string>("--name") { Description = "Name in the coordinator's logs.", DefaultValueFactory = _ => $"{Environment.MachineName}-{Environment.ProcessId}" };
        var root = new RootCommand("A Distributed worker node: joins the cluster, computes shard gradients for the coordinator.")
        {
            seedNodes, coordinator, hostname, publicHostname, port, frameSize, metricsPort, tlsCert, tlsCa, tlsPassword, healthPort, noDataPlane, data, threads, name,
        };
        root.SetAction(parse =>
        {
            var seeds = (parse.GetValue(seedNodes) ?? []).ToList();
            if (parse.GetValue(coordinator) is { } c)
                seeds.Add($"{ClusterSettings.Scheme(parse.GetValue(tlsCert) is not null)}://{ClusterSettings.SystemName}@{c}");
            var given = NodeConfiguration.Given(
                ("Node:Hostname", parse.GetValue(hostname)),
                ("Node:PublicHostname", parse.GetValue(publicHostname)),
                ("Node:Port", parse.GetValue(port)),
                ("Node:MaximumFrameSize", parse.GetValue(frameSize)),
                ("Node:MetricsPort", parse.GetValue(metricsPort)),
                ("Node:Tls:Certificate", parse.GetValue(tlsCert)),
                ("Node:Tls:Ca", parse.GetValue(tlsCa)),
                ("Node:Tls:Password", parse.GetValue(tlsPassword)),
                ("Node:DataPlane", parse.GetValue(noDataPlane) ? false : null),
                ("Node:HealthPort", parse.GetValue(healthPort)));
            for (int i = 0; i < seeds.Count; i++) given[$"Node:SeedNodes:{i}"] = seeds[i];
            return Run(given, parse.GetValue(data), parse.GetValue(threads), parse.GetValue(name)!,
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        int code = root.Parse(args).Invoke();
        Console.Out.Flush();
        Console.Error.Flush();
        // The node has left the cluster and said so. The runtime's own exit path (ProcessExit
        // handlers racing the node's last network threads) turned about one clean exit in four
        // into 255, and Environment.Exit did too; end the process with the code directly.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                ExitNow(code);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc: the runtime's exit path it is.
            }
        }
        return code;
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "_exit")]
    private static extern void ExitNow(int code);

    /// <param name="given">Node settings given on the command line, keyed like Node:Port.</param>
    public static int Run(IReadOnlyDictionary<string, string?> given, string? dataFolder, int threads, string name, TextWriter stdout, TextWriter stderr)
    {
        NodeOptions node;
        try
        {
            node = NodeConfiguration.Load(new Dictionary<string, string?>(), given);
        }
        catch (Exception e) when (e is DataFormatException or ArgumentException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        var errors = node.Validate().ToList();
        if (node.SeedNodes.Length == 0)
            errors.Add("give the coordinator's address with --coordinator host:port or --seed-node akka.tcp://distributed@host:port (or Node:SeedNodes).");
        if (threads <= 0) errors.Add($"--threads must be at least 1 (got {threads}).");
        if (errors.Count > 0)
        {
            foreach (var e in errors) stderr.WriteLine($"error: {e}");
            return 1;
        }
        using var metrics = node.MetricsPort is { } mp ? TrainingMetrics.StartPrometheus(mp, node.Hostname) : null;
        MnistData data;
        // The JIT compiles the training code (default model shape) while the data loads.
        var warmup = Warmup.Start(new TrainingOptions(), threads);
        try
        {
            data = MnistLoader.Load(dataFolder ?? DataLocator.DefaultFolder());
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
        warmup.Wait();
        void Log(string line)
        {
            lock (stdout) stdout.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        }
        var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = new WorkerActor.Settings(name, data.Train, threads, Log, OnFinished: f => finished.TrySetResult("finished"),
            OnStopped: s => finished.TrySetResult("stopped by the coordinator"), OnOrphaned: _ => finished.TrySetResult("orphaned"));
        using var stop = StopSignal.Listen();
        ActorSystem system;
        try
        {
            system = WorkerNode.Start(node.ToClusterSettings(Roles.Worker), settings);
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
        Log($"worker {name}: node {Akka.Cluster.Cluster.Get(system).SelfAddress} joining {string.Join(", ", node.SeedNodes)}; data {data.Folder} ({data.Train.Count} training images)");
        using var stopping = stop.Token.Register(() => finished.TrySetResult("signal"));
        // The node can also end on its own: downed by the split-brain resolver, or removed from the cluster.
        if (Task.WhenAny(finished.Task, system.WhenTerminated).GetAwaiter().GetResult() != finished.Task)
        {
            Log($"worker {name}: this node was removed from the cluster (downed or partitioned away from the coordinator); exiting");
            return 3;
        }
        int code = finished.Task.Result == "orphaned" ? 4 : 0;
        if (finished.Task.Result == "signal")
        {
            Log($"worker {name}: stopping on {stop.Name}: leaving the cluster (the coordinator gives this worker's shards to the others)");
            code = stop.ExitCode;
        }
        // Leaving (not just stopping) tells the coordinator at once, through membership.
        CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).Wait(TimeSpan.FromSeconds(10));
        return code;
    }
}
