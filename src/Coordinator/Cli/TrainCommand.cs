using System.CommandLine;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Progress;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Lifetime;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;
using Distributed.Shared.Security;

namespace Distributed.Coordinator.Cli;

/// <summary><c>train</c>: trains the MLP on MNIST, in one process or on a simulated cluster, and writes metrics.json and model.safetensors.</summary>
public static class TrainCommand
{
    /// <summary>Options of a training job beyond <see cref="TrainingOptions"/>.</summary>
    public sealed record JobOptions(string? Data, string Out, int Threads, int Workers, int FrameSize,
        double StepTimeoutSeconds = 5, double WorkerTimeoutSeconds = 60, int CheckpointEvery = 100, string? Resume = null, TlsSettings? Tls = null,
        bool Plain = false, int? MetricsPort = null, bool DataPlane = true, Shared.Protocol.TensorWire Wire = Shared.Protocol.TensorWire.Float32, bool Peers = false)
    {
        /// <summary>The training options given explicitly on the command line (with --resume they must agree with the checkpoint).</summary>
        public IReadOnlyCollection<string> GivenTrainingOptions { get; init; } = [];

        /// <summary>Starts the Prometheus endpoint when asked for (dispose to stop it).</summary>
        public IDisposable? StartMetrics(string host = "localhost") => MetricsPort is { } port ? Shared.Diagnostics.TrainingMetrics.StartPrometheus(port, host) : null;

        public Supervision Supervision => new(Workers, TimeSpan.FromSeconds(StepTimeoutSeconds), TimeSpan.FromSeconds(WorkerTimeoutSeconds));

        /// <summary>The simulated cluster these options describe.</summary>
        public SimulationSpec Simulation => new(Workers, Supervision) { FrameSize = FrameSize, Tls = Tls, DataPlane = DataPlane, Wire = Wire, Peers = Peers };
    }

    public static Command Create()
    {
        var binder = new TrainingOptionsBinder();
        var workers = new Option<int>("--workers") { Description = "Worker nodes of the single-machine cluster simulation (0: train in this process).", DefaultValueFactory = _ => 2 };
        var command = new Command("train", "Train a model (the MLP by default) on MNIST and write metrics.json and model.safetensors.") { workers };
        foreach (var option in binder.All) command.Options.Add(option);
        command.SetAction(parse => Run(binder.Bind(parse), binder.Job(parse, parse.GetValue(workers)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(TrainingOptions options, JobOptions job, TextWriter stdout, TextWriter stderr)
    {
        var errors = options.Validate().Concat(Validate(job)).ToList();
        if (errors.Count > 0)
        {
            foreach (var e in errors) stderr.WriteLine($"error: {e}");
            return ExitCodes.InvalidArguments;
        }
        Gemm.MaxThreads = job.Threads;
        using var stop = StopSignal.Listen();
        return Guarded(stderr, () =>
        {
            using var outLock = OutputLock.Acquire(job.Out);
            var run = Begin(options, job, stdout);
            if (run.Finished) return AlreadyFinished(run, job, stdout);
            var data = run.Data;
            if (job.Workers > 0) CoordinatorNode.CheckFrameSize(run, job.FrameSize, job.Peers);
            stdout.WriteLine(Describe(run.Options, data, job));
            if (job.Workers > run.Options.Shards)
                stdout.WriteLine($"warning: {job.Workers} workers share {run.Options.Shards} shards per step, so {job.Workers - run.Options.Shards} of them will sit idle; raise --shards to use them (the result depends on --shards, not on the workers).");
            TrainingResult? result = null;
            Shared.Layers.Sequential<float> model = run.Model;
            ClusterRunOutcome? outcome = null;
            using var metrics = job.StartMetrics();
            if (job.MetricsPort is { } port) stdout.WriteLine($"metrics: http://localhost:{port}/metrics");
            using (var progress = Progress(stdout, job.Plain))
            {
                // Disposed (pending writes waited for) before the outcome is acted on.
                using var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, progress.Message);
                void OnStep(TrainingRun r, EpochMetrics? epoch)
                {
                    checkpoints.OnStep(r, epoch);
                    progress.Step(r, null);
                }
                if (job.Workers == 0)
                {
                    result = new LocalTrainer(run, progress.Message, job.Threads, OnStep).Run(stop.Token);
                }
                else
                {
                    try
                    {
                        var hooks = new RunHooks(progress.Message) { OnStep = OnStep, CheckpointEvery = job.CheckpointEvery, OnMembers = members => progress.Step(run, members) };
                        outcome = ClusterSimulation.RunAsync(run, job.Simulation, hooks, stop: stop).GetAwaiter().GetResult();
                        (result, model) = (outcome.Result, outcome.Model);
                    }
                    catch (ClusterRunInterruptedException)
                    {
                        result = null;
                    }
                }
                if (result is not null) progress.Finished(result, run.Options);
            }
            if (result is null)
            {
                stdout.WriteLine(Checkpointer.SaveStopped(job.Out, run, stop.Name, ResumeCommand("train", job, $"--workers {job.Workers}")));
                return stop.ExitCode;
            }
            string mode = job.Workers == 0 ? "single process" : $"cluster simulation, {job.Workers} workers{WireNote(job)}";
            RunOutputs.Write(job.Out, mode, run.Options, data, model, result, outcome?.Extra, outcome?.Trace);
            RunOutputs.WriteReport(job.Out, mode, run.Options, data, model, result, stdout, outcome?.WorkerEpochs);
            return Finish(result, job, stdout);
        });
    }

    /// <summary>The command that continues a stopped run in <see cref="JobOptions.Out"/>, with the mode stated (it is not in the checkpoint).</summary>
    public static string ResumeCommand(string command, JobOptions job, string mode) =>
        $"{command} --resume {Quote(job.Out)} {mode}" + (job.Data is null ? "" : $" --data {Quote(job.Data)}");

    private static string Quote(string path) => path.Any(char.IsWhiteSpace) ? $"\"{path}\"" : path;

    /// <summary>--resume of a run whose last epoch is checkpointed: nothing to train; say so, with its result.</summary>
    public static int AlreadyFinished(TrainingRun run, JobOptions job, TextWriter stdout)
    {
        var result = run.Result();
        stdout.WriteLine($"the run checkpointed in {job.Resume} is finished ({run.Options.Epochs} epoch(s), final test accuracy " +
            $"{(run.Epochs.Count > 0 ? run.Epochs[^1].TestAccuracy : 0):P2}, final_weights_sha256 {result.FinalWeightsSha256}); nothing to resume. " +
            "To train longer, start a new run with more --epochs.");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Checks the output folder, then either loads the data and starts a new run, or (with --resume)
    /// continues the run in a checkpoint, whose options then apply.
    /// </summary>
    public static TrainingRun Begin(TrainingOptions options, JobOptions job, TextWriter stdout)
    {
        RunOutputs.EnsureWritable(job.Out);
        if (job.Resume is null)
        {
            // The JIT compiles the training code on a throwaway model while the data loads.
            var warmup = Warmup.Start(options, job.Threads);
            var data = Prepare(options, job, stdout);
            warmup.Wait();
            return new TrainingRun(options, data);
        }
        var (run, path) = Checkpointer.Resume(job.Resume, job.Data, line => stdout.WriteLine($"warning: {line}"));
        var conflicts = new TrainingOptionsBinder().ResumeConflicts(options, run.Options, job.GivenTrainingOptions);
        if (conflicts.Count > 0)
            throw new ResumeConflictException($"--resume continues the checkpointed run with its own options, but these differ: {string.Join("; ", conflicts)}. " +
                "Leave them out to resume, or start a new run in another --out.");
        stdout.WriteLine($"resuming from {path}: epoch {run.Epoch}, batch {run.Batch} (step {run.Step}); the checkpoint's training options apply");
        return run;
    }

    /// <summary>Worker nodes one machine's simulation runs (each is an ActorSystem with its own threads).</summary>
    public const int MaxWorkers = 64;

    /// <summary>One day: longer timeouts are typos, and far larger ones overflow a TimeSpan.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    public static IEnumerable<string> Validate(JobOptions job)
    {
        if (job.Threads <= 0 || job.Threads > 1024) yield return $"--threads must be in 1–1024 (got {job.Threads}).";
        if (job.Workers < 0 || job.Workers > MaxWorkers) yield return $"--workers must be 0 (single process) to {MaxWorkers} (got {job.Workers}).";
        if (job.Wire != Shared.Protocol.TensorWire.Float32 && job.Workers == 0) yield return "--wire bf16 applies to cluster runs (--workers 1 or more); a single process sends no tensors.";
        if (job.FrameSize < 32_000) yield return $"--frame-size must be at least 32000 bytes (got {job.FrameSize}).";
        if (!(job.StepTimeoutSeconds >= 0.01 && job.StepTimeoutSeconds <= MaxTimeoutSeconds)) yield return $"--step-timeout must be 0.01–{MaxTimeoutSeconds} seconds (got {job.StepTimeoutSeconds}).";
        if (!(job.WorkerTimeoutSeconds >= 0.01 && job.WorkerTimeoutSeconds <= MaxTimeoutSeconds)) yield return $"--worker-timeout must be 0.01–{MaxTimeoutSeconds} seconds (got {job.WorkerTimeoutSeconds}).";
        foreach (var e in TlsOptions.Validate(job.Tls)) yield return e;
        if (job.MetricsPort is < 1 or > 65535) yield return $"--metrics-port must be in 1–65535 (got {job.MetricsPort}).";
        if (job.GivenTrainingOptions.Contains("--hidden") && job.GivenTrainingOptions.Contains("--arch"))
            yield return "--hidden and --arch both describe the model: give one (e.g. --arch dense256,relu,dense10 for --hidden 256).";
        if (job.GivenTrainingOptions.Contains("--model") && (job.GivenTrainingOptions.Contains("--hidden") || job.GivenTrainingOptions.Contains("--arch")))
            yield return $"--model and {(job.GivenTrainingOptions.Contains("--arch") ? "--arch" : "--hidden")} both describe the model: give one.";
        if (job.CheckpointEvery < 0) yield return $"--checkpoint-every must be 0 (epoch ends only) or a positive number of steps (got {job.CheckpointEvery}).";
    }

    /// <summary>
    /// A live display when writing to an interactive terminal (and not --plain); plain lines for
    /// pipes, files, CI and tests.
    /// </summary>
    public static IRunProgress Progress(TextWriter stdout, bool plain) =>
        !plain && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive
            ? new LiveProgress(Spectre.Console.AnsiConsole.Console)
            : new PlainProgress(stdout);

    /// <summary>Runs a command body, turning the errors a user can cause into one line and an exit code.</summary>
    public static int Guarded(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (ExitCodeFor(e) is int code)
        {
            stderr.WriteLine($"error: {e.Message}");
            return code;
        }
    }

    // The user-caused errors and their documented exit codes; anything else is a bug and propagates.
    private static int? ExitCodeFor(Exception e) => e switch
    {
        DataFormatException => ExitCodes.BadInput,
        OutputException => ExitCodes.OutputFailed,
        ClusterConfigurationException => ExitCodes.InvalidArguments,
        ResumeConflictException => ExitCodes.InvalidArguments,
        ClusterRunFailedException => ExitCodes.RunFailed,
        TrainingDivergedException => ExitCodes.RunFailed,
        _ => null,
    };

    /// <summary>Loads and verifies the data, and says what was loaded.</summary>
    public static MnistData Prepare(TrainingOptions options, JobOptions job, TextWriter stdout)
    {
        var data = MnistLoader.Load(job.Data ?? DataLocator.DefaultFolder(), options.TrainLimit, options.TestLimit);
        stdout.WriteLine($"data: {data.Folder}  train {data.Train.Count}  test {data.Test.Count}  " +
            (data.VerifiedFiles.Count > 0 ? $"SHA-256 verified: {data.VerifiedFiles.Count} files" : "no SHA256SUMS entries checked"));
        return data;
    }

    public static string Describe(TrainingOptions options, MnistData data, JobOptions job) =>
        $"model: {options.Model(data.Train.PixelsPerImage, data.Train.Classes)}  optimizer {options.Optimizer} lr {options.LearningRate} {options.Schedule}  " +
        $"batch {options.BatchSize} in {options.Shards} shards{(options.Blocks > 1 ? $" ({options.Blocks} reduction blocks)" : "")}  seed {options.Seed}  kernel {Gemm.KernelName}  " +
        (job.Workers == 0 ? $"single process on {job.Threads} thread(s)" : $"cluster of {job.Workers} worker(s)") + WireNote(job);

    /// <summary>Said wherever the run is described: a bfloat16 wire is not the exact mode.</summary>
    public static string WireNote(JobOptions job) => (job.Wire == Shared.Protocol.TensorWire.BFloat16 ? ", bf16 wire (not exact)" : "") + (job.Peers ? ", peer exchange" : "");

    public static int Finish(TrainingResult result, JobOptions job, TextWriter stdout)
    {
        stdout.WriteLine($"final test accuracy {result.Epochs[^1].TestAccuracy:P2}  final_weights_sha256 {result.FinalWeightsSha256}");
        stdout.WriteLine($"wrote {Path.Combine(job.Out, RunOutputs.MetricsFile)} and {Path.Combine(job.Out, RunOutputs.ModelFile)}");
        return ExitCodes.Success;
    }
}

/// <summary>Options given with --resume that contradict the checkpoint; the message names each.</summary>
public sealed class ResumeConflictException(string message) : Exception(message);
