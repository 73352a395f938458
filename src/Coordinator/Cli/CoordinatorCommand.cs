using System.CommandLine;
using Akka.Actor;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary><c>coordinator</c>: runs this process as the coordinator node of a multi-process cluster.</summary>
public static class CoordinatorCommand
{
    public static Command Create()
    {
        var binder = new TrainingOptionsBinder();
        var hostname = new Option<string>("--hostname") { Description = "Address to bind and advertise to workers.", DefaultValueFactory = _ => "127.0.0.1" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address workers use to reach this node, when --hostname is a bind address such as 0.0.0.0." };
        var port = new Option<int>("--port") { Description = "TCP port workers join (0: chosen by the OS and printed).", DefaultValueFactory = _ => 4053 };
        var minWorkers = new Option<int>("--min-workers") { Description = "Workers to wait for before training starts.", DefaultValueFactory = _ => 1 };
        var command = new Command("coordinator", "Run the coordinator node of a multi-process cluster; workers join it with Distributed.Worker --coordinator host:port.")
        {
            hostname, publicHostname, port, minWorkers,
        };
        foreach (var option in binder.All) command.Options.Add(option);
        command.SetAction(parse => Run(binder.Bind(parse), binder.Job(parse, parse.GetValue(minWorkers)), parse.GetValue(hostname)!, parse.GetValue(port),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(publicHostname)));
        return command;
    }

    public static int Run(TrainingOptions options, TrainCommand.JobOptions job, string hostname, int port, TextWriter stdout, TextWriter stderr,
        string? publicHostname = null)
    {
        var errors = options.Validate().Concat(TrainCommand.Validate(job)).ToList();
        if (job.Workers < 1) errors.Add($"--min-workers must be at least 1 (got {job.Workers}).");
        if (port is < 0 or > 65535) errors.Add($"--port must be in 0–65535 (got {port}).");
        if (errors.Count > 0)
        {
            foreach (var e in errors) stderr.WriteLine($"error: {e}");
            return ExitCodes.InvalidArguments;
        }
        Gemm.MaxThreads = job.Threads;
        return TrainCommand.Guarded(stderr, () =>
        {
            var run = TrainCommand.Begin(options, job, stdout);
            var data = run.Data;
            stdout.WriteLine(TrainCommand.Describe(run.Options, data, job));
            ClusterRunOutcome outcome;
            CoordinatorNode node;
            using var metrics = job.StartMetrics();
            using (var progress = TrainCommand.Progress(stdout, job.Plain))
            {
                void Log(string line) => progress.Message($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, Log);
                node = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, hostname, port, MaximumFrameSize: job.FrameSize, Tls: job.Tls,
                    PublicHostname: publicHostname), run,
                    job.Supervision, Log, onStep: (r, epoch) =>
                    {
                        checkpoints.OnStep(r, epoch);
                        progress.Step(r, null);
                    }, onMembers: members => progress.Step(run, members));
                Log($"coordinator: listening at {node.Address}");
                outcome = node.Outcome.GetAwaiter().GetResult();
                progress.Finished(outcome.Result, run.Options);
            }
            RunOutputs.Write(job.Out, $"multi-process cluster (min {job.Workers} workers)", run.Options, data, outcome.Model, outcome.Result, outcome.Extra);
            RunOutputs.WriteReport(job.Out, "multi-process cluster", run.Options, data, outcome.Model, outcome.Result, stdout, outcome.WorkerEpochs);
            // Give RunFinished a moment to reach the workers before this node leaves.
            Thread.Sleep(500);
            CoordinatedShutdown.Get(node.System).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
            return TrainCommand.Finish(outcome.Result, job, stdout);
        });
    }
}
