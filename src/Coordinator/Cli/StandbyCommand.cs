using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Lifetime;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary>
/// <c>coordinator --standby</c>: joins the cluster beside the active coordinator, keeps its
/// snapshots, and if it dies continues the run as the next term's coordinator: its checkpoints,
/// outputs and exit code are then this process's, as if it had run the run from the start.
/// <c>coordinator --elect</c> is the same node that also leads the run (its own options, or its
/// --out's checkpoint) when it comes up as the oldest coordinator: every replica of a
/// StatefulSet runs the same command, and a restarted one stands by for the one that took over.
/// </summary>
public static class StandbyCommand
{
    /// <param name="elect">
    /// <c>--elect</c>: the run's own options; this node leads it (resuming from --out's checkpoint
    /// when there is one) if it comes up as the oldest coordinator. Null: a plain standby.
    /// </param>
    public static int Run(TrainCommand.JobOptions job, IReadOnlyDictionary<string, string?> given, TextWriter stdout, TextWriter stderr, TrainingOptions? elect = null)
    {
        if (CoordinatorCommand.LoadNode(given, stderr) is not { } node) return ExitCodes.InvalidArguments;
        job = job with { FrameSize = node.MaximumFrameSize, Tls = node.TlsSettings, MetricsPort = node.MetricsPort };
        var errors = node.Validate().ToList();
        if (elect is not null) errors.AddRange(elect.Validate().Concat(TrainCommand.Validate(job with { Tls = null })));
        if (node.SeedNodes.Length == 0)
            errors.Add(elect is null ? "a standby joins the active coordinator's cluster: give --seed-node akka.tcp://distributed@host:port (or Node:SeedNodes)."
                : "--elect needs the coordinators' addresses, this node's own among them: give --seed-node akka.tcp://distributed@host:port for each (or Node:SeedNodes).");
        if (job.Resume is not null)
            errors.Add(elect is null ? "--standby takes the run from the active coordinator's snapshots; it cannot also --resume a checkpoint."
                : "--elect resumes from the checkpoint in --out by itself when it leads; leave out --resume.");
        if (job.Workers < 1) errors.Add($"--min-workers must be at least 1 (got {job.Workers}).");
        if (CoordinatorCommand.Refused(errors, stderr)) return ExitCodes.InvalidArguments;
        if (elect is null && job.GivenTrainingOptions.Count > 0)
            stderr.WriteLine($"warning: a standby continues the run with the options in the active coordinator's snapshots; {string.Join(", ", job.GivenTrainingOptions)} " +
                "are not used (give them with --elect to lead with them).");
        Gemm.MaxThreads = job.Threads;
        using var stop = StopSignal.Listen();
        return TrainCommand.Guarded(stderr, () =>
        {
            using var outLock = OutputLock.Acquire(job.Out);
            RunOutputs.EnsureWritable(job.Out);
            var data = new RunData(job.Data);
            TrainingRun? run = null;
            // Ready before joining, so that leading costs no time: this node's checkpoint, or a new run.
            TrainingRun? own = null;
            if (elect is not null)
            {
                own = TrainCommand.Begin(elect, job with { Resume = CheckpointFile.Exists(job.Out) ? job.Out : null }, stdout);
                if (own.Finished) return TrainCommand.AlreadyFinished(own, job, stdout);
            }
            bool led = false;
            ClusterRunOutcome? outcome = null;
            StandbyEndedException? ended = null;
            StandbyNode standby;
            using var metrics = job.StartMetrics(node.Hostname);
            using (var progress = TrainCommand.Progress(stdout, job.Plain))
            {
                void Log(string line) => progress.Message($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                using var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, Log);
                var hooks = CoordinatorCommand.Hooks(Log, progress, checkpoints, job, () => Volatile.Read(ref run));
                standby = StandbyNode.Start(node.ToClusterSettings(Roles.Coordinator) with { Wire = job.Wire, Peers = job.Peers }, job.Supervision, hooks,
                    restore: c =>
                    {
                        var restored = TrainingRun.Restore(c, data.For(c.Options));
                        Volatile.Write(ref run, restored);
                        return restored;
                    },
                    prepare: c => data.For(c.Options),
                    lead: own is null ? null : () =>
                    {
                        led = true;
                        Volatile.Write(ref run, own);
                        return own;
                    });
                Log(elect is null ? $"standby coordinator: listening at {standby.Address}; joining {string.Join(", ", node.SeedNodes)}; waiting for the active coordinator's snapshots"
                    : $"coordinator (--elect): listening at {standby.Address}; joining {string.Join(", ", node.SeedNodes)}; the oldest coordinator leads, the others stand by");
                using var stopping = stop.Token.Register(() => standby.Stop($"interrupted ({stop.Name})"));
                try
                {
                    outcome = standby.Outcome.GetAwaiter().GetResult();
                    progress.Finished(outcome.Result, run!.Options);
                }
                catch (ClusterRunInterruptedException)
                {
                    outcome = null;
                }
                catch (StandbyEndedException e)
                {
                    ended = e;
                }
            }
            if (ended is not null)
            {
                stdout.WriteLine($"standby: {ended.Message}.");
                CoordinatorCommand.Leave(standby.System);
                return ended.Finished ? ExitCodes.Success : stop.ExitCode;
            }
            if (outcome is null)
            {
                if (run is not null)
                    stdout.WriteLine(Checkpointer.SaveStopped(job.Out, run, stop.Name, TrainCommand.ResumeCommand("coordinator", job, $"--min-workers {job.Workers}")));
                else
                    stdout.WriteLine($"standby: stopped ({stop.Name}) before any takeover; nothing to save.");
                CoordinatorCommand.Leave(standby.System);
                return stop.ExitCode;
            }
            string role = led ? "elected coordinator" : "standby coordinator that took the run over";
            string mode = $"multi-process cluster ({role}, min {job.Workers} workers){TrainCommand.WireNote(job)}";
            RunOutputs.Write(job.Out, mode, run!.Options, run.Data, outcome.Model, outcome.Result, outcome.Extra, outcome.Trace);
            RunOutputs.WriteReport(job.Out, mode, run.Options, run.Data, outcome.Model, outcome.Result, stdout, outcome.WorkerEpochs);
            CoordinatorCommand.Leave(standby.System);
            return TrainCommand.Finish(outcome.Result, job, stdout);
        });
    }

    /// <summary>The data a snapshot's run trains on, loaded once per subset (ahead of a takeover, when the first snapshot comes).</summary>
    private sealed class RunData(string? folder)
    {
        private readonly Dictionary<(int?, int?), MnistData> _loaded = [];

        public MnistData For(TrainingOptions options)
        {
            lock (_loaded)
            {
                var key = (options.TrainLimit, options.TestLimit);
                if (!_loaded.TryGetValue(key, out var data))
                    _loaded[key] = data = MnistLoader.Load(folder ?? DataLocator.DefaultFolder(), options.TrainLimit, options.TestLimit);
                return data;
            }
        }
    }
}
