using System.CommandLine;
using Akka.Actor;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Lifetime;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;
using Distributed.Shared.Security;

namespace Distributed.Coordinator.Cli;

/// <summary><c>coordinator</c>: runs this process as the coordinator node of a multi-process cluster.</summary>
public static class CoordinatorCommand
{
    public static Command Create()
    {
        var binder = new TrainingOptionsBinder();
        var hostname = new Option<string?>("--hostname") { Description = "Address to bind and advertise to workers (default 127.0.0.1). [Node:Hostname]" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address workers use to reach this node, when --hostname is a bind address such as 0.0.0.0. [Node:PublicHostname]" };
        var port = new Option<int?>("--port") { Description = "TCP port workers join (default 4053; 0: chosen by the OS and printed). [Node:Port]" };
        var dataPort = new Option<int?>("--data-port") { Description = "TCP port of the tensor data plane that workers connect to (default 0: chosen by the OS; workers learn it when they register). [Node:DataPort]" };
        var healthPort = new Option<int?>("--health-port") { Description = "Serve GET /health/live and /health/ready (Kubernetes probes) on this port. [Node:HealthPort]" };
        var minWorkers = new Option<int>("--min-workers") { Description = "Workers to wait for before training starts.", DefaultValueFactory = _ => 1 };
        var standby = new Option<bool>("--standby")
        {
            Description = "Run as a standby coordinator: join the cluster (--seed-node), keep the active coordinator's snapshots and take the run over if it dies. " +
                "The run's options come with the snapshots; --data, --out and --checkpoint-every are this node's own.",
        };
        var elect = new Option<bool>("--elect")
        {
            Description = "Run as one of several coordinators (every one with the same command, and --seed-node for each, its own included): " +
                "the oldest leads the run (resuming from --out's checkpoint when there is one), the others stand by as with --standby. For StatefulSets.",
        };
        var seedNodes = new Option<string[]>("--seed-node") { Description = "Cluster seed node address, e.g. akka.tcp://distributed@10.0.0.5:4053 (repeatable; a standby joins the active coordinator this way). [Node:SeedNodes]", AllowMultipleArgumentsPerToken = true };
        var command = new Command("coordinator", "Run the coordinator node of a multi-process cluster; workers join it with Distributed.Worker --coordinator host:port.")
        {
            hostname, publicHostname, port, dataPort, healthPort, minWorkers, standby, elect, seedNodes,
        };
        foreach (var option in binder.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var job = binder.Job(parse, parse.GetValue(minWorkers));
            var given = NodeConfiguration.Given(
                ("Node:Hostname", parse.GetValue(hostname)),
                ("Node:PublicHostname", parse.GetValue(publicHostname)),
                ("Node:Port", parse.GetValue(port)),
                ("Node:DataPort", parse.GetValue(dataPort)),
                ("Node:HealthPort", parse.GetValue(healthPort)),
                ("Node:DataPlane", parse.GetValue(binder.NoDataPlane) ? false : null),
                ("Node:MaximumFrameSize", parse.GetResult(binder.FrameSize) is { Implicit: false } ? job.FrameSize : null),
                ("Node:MetricsPort", job.MetricsPort),
                ("Node:Tls:Certificate", job.Tls?.CertificatePath),
                ("Node:Tls:Ca", job.Tls?.CaPath),
                ("Node:Tls:Password", parse.GetValue(binder.Tls.Password)));
            var seeds = parse.GetValue(seedNodes) ?? [];
            for (int i = 0; i < seeds.Length; i++) given[$"Node:SeedNodes:{i}"] = seeds[i];
            if (parse.GetValue(standby) && parse.GetValue(elect))
            {
                parse.InvocationConfiguration.Error.WriteLine("error: --standby never leads and --elect leads when oldest; give one of them.");
                return ExitCodes.InvalidArguments;
            }
            if (parse.GetValue(standby) || parse.GetValue(elect))
                return StandbyCommand.Run(job, given, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
                    parse.GetValue(elect) ? binder.Bind(parse) : null);
            return Run(binder.Bind(parse), job, given, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <param name="given">Node settings given on the command line, keyed like Node:Port (appsettings.json and DISTRIBUTED_* variables fill the rest).</param>
    public static int Run(TrainingOptions options, TrainCommand.JobOptions job, IReadOnlyDictionary<string, string?> given, TextWriter stdout, TextWriter stderr)
    {
        if (LoadNode(given, stderr) is not { } node) return ExitCodes.InvalidArguments;
        job = job with { FrameSize = node.MaximumFrameSize, Tls = node.TlsSettings, MetricsPort = node.MetricsPort };
        var errors = options.Validate().Concat(TrainCommand.Validate(job with { Tls = null })).Concat(node.Validate()).ToList();
        if (job.Workers < 1) errors.Add($"--min-workers must be at least 1 (got {job.Workers}).");
        if (Refused(errors, stderr)) return ExitCodes.InvalidArguments;
        Gemm.MaxThreads = job.Threads;
        using var stop = StopSignal.Listen();
        return TrainCommand.Guarded(stderr, () =>
        {
            using var outLock = OutputLock.Acquire(job.Out);
            var run = TrainCommand.Begin(options, job, stdout);
            if (run.Finished) return TrainCommand.AlreadyFinished(run, job, stdout);
            var data = run.Data;
            stdout.WriteLine(TrainCommand.Describe(run.Options, data, job));
            ClusterRunOutcome? outcome = null;
            CoordinatorNode coordinator;
            using var metrics = job.StartMetrics(node.Hostname);
            using (var progress = TrainCommand.Progress(stdout, job.Plain))
            {
                void Log(string line) => progress.Message($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                // Disposed (pending writes waited for) before the outcome is acted on.
                using var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, Log);
                var hooks = Hooks(Log, progress, checkpoints, job, () => run);
                coordinator = CoordinatorNode.Start(node.ToClusterSettings(Roles.Coordinator) with { Wire = job.Wire, Peers = job.Peers }, run, job.Supervision, hooks);
                Log($"coordinator: listening at {coordinator.Address}");
                using var stopping = stop.Token.Register(() => coordinator.Stop($"interrupted ({stop.Name})"));
                try
                {
                    outcome = coordinator.Outcome.GetAwaiter().GetResult();
                    progress.Finished(outcome.Result, run.Options);
                }
                catch (ClusterRunInterruptedException)
                {
                    outcome = null;
                }
            }
            if (outcome is null)
            {
                stdout.WriteLine(Checkpointer.SaveStopped(job.Out, run, stop.Name, TrainCommand.ResumeCommand("coordinator", job, $"--min-workers {job.Workers}")));
                Leave(coordinator);
                return stop.ExitCode;
            }
            RunOutputs.Write(job.Out, $"multi-process cluster (min {job.Workers} workers){TrainCommand.WireNote(job)}", run.Options, data, outcome.Model, outcome.Result, outcome.Extra, outcome.Trace);
            RunOutputs.WriteReport(job.Out, "multi-process cluster", run.Options, data, outcome.Model, outcome.Result, stdout, outcome.WorkerEpochs);
            Leave(coordinator);
            return TrainCommand.Finish(outcome.Result, job, stdout);
        });
    }

    /// <summary>The node's settings (defaults, appsettings.json, DISTRIBUTED_* variables, then the command line); null, with the error printed, when they do not load.</summary>
    internal static NodeOptions? LoadNode(IReadOnlyDictionary<string, string?> given, TextWriter stderr)
    {
        try
        {
            return NodeConfiguration.Load(new Dictionary<string, string?> { ["Node:Port"] = "4053" }, given);
        }
        catch (Exception e) when (e is Shared.Data.DataFormatException or ArgumentException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>Prints each error; true when there was one.</summary>
    internal static bool Refused(IReadOnlyCollection<string> errors, TextWriter stderr)
    {
        foreach (var e in errors) stderr.WriteLine($"error: {e}");
        return errors.Count > 0;
    }

    /// <summary>
    /// A coordinator process's hooks: each completed step checkpointed (when due) and shown; the
    /// member table shown with the run <paramref name="run"/> gives (none yet on a standby).
    /// </summary>
    internal static RunHooks Hooks(Action<string> log, Progress.IRunProgress progress, Checkpointer checkpoints, TrainCommand.JobOptions job, Func<TrainingRun?> run) => new(log)
    {
        OnStep = (r, epoch) =>
        {
            checkpoints.OnStep(r, epoch);
            progress.Step(r, null);
        },
        OnMembers = members =>
        {
            if (run() is { } r) progress.Step(r, members);
        },
        CheckpointEvery = job.CheckpointEvery,
    };

    /// <summary>Gives RunFinished or RunStopped a moment to reach the workers, then leaves the cluster.</summary>
    private static void Leave(CoordinatorNode coordinator) => Leave(coordinator.System);

    internal static void Leave(ActorSystem system)
    {
        Thread.Sleep(500);
        CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
    }
}
