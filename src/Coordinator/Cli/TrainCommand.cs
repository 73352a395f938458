using System.CommandLine;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Progress;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary><c>train</c>: trains the MLP on MNIST, in one process or on a simulated cluster, and writes metrics.json and model.safetensors.</summary>
public static class TrainCommand
{
    /// <summary>Options of a training job beyond <see cref="TrainingOptions"/>.</summary>
    public sealed record JobOptions(string? Data, string Out, int Threads, int Workers, int FrameSize,
        double StepTimeoutSeconds = 5, double WorkerTimeoutSeconds = 60, int CheckpointEvery = 100, string? Resume = null, TlsSettings? Tls = null,
        bool Plain = false, int? MetricsPort = null, bool DataPlane = true, Shared.Protocol.TensorWire Wire = Shared.Protocol.TensorWire.Float32)
    {
        /// <summary>Starts the Prometheus endpoint when asked for (dispose to stop it).</summary>
        public IDisposable? StartMetrics() => MetricsPort is { } port ? Shared.Diagnostics.TrainingMetrics.StartPrometheus(port) : null;

        public Supervision Supervision => new(Workers, TimeSpan.FromSeconds(StepTimeoutSeconds), TimeSpan.FromSeconds(WorkerTimeoutSeconds));
    }

    public static Command Create()
    {
        var binder = new TrainingOptionsBinder();
        var workers = new Option<int>("--workers") { Description = "Worker nodes of the single-machine cluster simulation (0: train in this process).", DefaultValueFactory = _ => 2 };
        var command = new Command("train", "Train the MLP on MNIST and write metrics.json and model.safetensors.") { workers };
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
        return Guarded(stderr, () =>
        {
            var run = Begin(options, job, stdout);
            var data = run.Data;
            if (job.Workers > 0) CoordinatorNode.CheckFrameSize(run.Model.ParameterCount, job.FrameSize);
            stdout.WriteLine(Describe(run.Options, data, job));
            TrainingResult result;
            Shared.Layers.Sequential<float> model;
            ClusterRunOutcome? outcome = null;
            using var metrics = job.StartMetrics();
            if (job.MetricsPort is { } port) stdout.WriteLine($"metrics: http://localhost:{port}/metrics");
            using (var progress = Progress(stdout, job.Plain))
            {
                var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, progress.Message);
                void OnStep(TrainingRun r, EpochMetrics? epoch)
                {
                    checkpoints.OnStep(r, epoch);
                    progress.Step(r, null);
                }
                if (job.Workers == 0)
                {
                    var trainer = new LocalTrainer(run, progress.Message, job.Threads, OnStep);
                    (result, model) = (trainer.Run(), trainer.Model);
                }
                else
                {
                    outcome = ClusterSimulation.RunAsync(run.Options, data, job.Workers, progress.Message, job.FrameSize, supervision: job.Supervision,
                        onStep: OnStep, resumeFrom: run, tls: job.Tls, onMembers: members => progress.Step(run, members), dataPlane: job.DataPlane, wire: job.Wire).GetAwaiter().GetResult();
                    (result, model) = (outcome.Result, outcome.Model);
                }
                progress.Finished(result, run.Options);
            }
            string mode = job.Workers == 0 ? "single process" : $"cluster simulation, {job.Workers} workers{WireNote(job)}";
            RunOutputs.Write(job.Out, mode, run.Options, data, model, result, outcome?.Extra);
            RunOutputs.WriteReport(job.Out, mode, run.Options, data, model, result, stdout, outcome?.WorkerEpochs);
            return Finish(result, job, stdout);
        });
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
        var (run, path) = Checkpointer.Resume(job.Resume, job.Data);
        stdout.WriteLine($"resuming from {path}: epoch {run.Epoch}, batch {run.Batch} (step {run.Step}); the checkpoint's training options apply");
        return run;
    }

    public static IEnumerable<string> Validate(JobOptions job)
    {
        if (job.Threads <= 0) yield return $"--threads must be at least 1 (got {job.Threads}).";
        if (job.Workers < 0) yield return $"--workers must be 0 (single process) or more (got {job.Workers}).";
        if (job.Wire != Shared.Protocol.TensorWire.Float32 && job.Workers == 0) yield return "--wire bf16 applies to cluster runs (--workers 1 or more); a single process sends no tensors.";
        if (job.FrameSize < 32_000) yield return $"--frame-size must be at least 32000 bytes (got {job.FrameSize}).";
        if (!(job.StepTimeoutSeconds > 0)) yield return $"--step-timeout must be a positive number of seconds (got {job.StepTimeoutSeconds}).";
        if (!(job.WorkerTimeoutSeconds > 0)) yield return $"--worker-timeout must be a positive number of seconds (got {job.WorkerTimeoutSeconds}).";
        foreach (var e in TlsOptions.Validate(job.Tls)) yield return e;
        if (job.MetricsPort is < 1 or > 65535) yield return $"--metrics-port must be in 1–65535 (got {job.MetricsPort}).";
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
        ClusterRunFailedException => ExitCodes.RunFailed,
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
        $"model: {Mlp.Describe(data.Train.PixelsPerImage, options.Hidden, data.Train.Classes)}  optimizer {options.Optimizer} lr {options.LearningRate} {options.Schedule}  " +
        $"batch {options.BatchSize} in {options.Shards} shards{(options.Blocks > 1 ? $" ({options.Blocks} reduction blocks)" : "")}  seed {options.Seed}  kernel {Gemm.KernelName}  " +
        (job.Workers == 0 ? $"single process on {job.Threads} thread(s)" : $"cluster of {job.Workers} worker(s)") + WireNote(job);

    /// <summary>Said wherever the run is described: a bfloat16 wire is not the exact mode.</summary>
    public static string WireNote(JobOptions job) => job.Wire == Shared.Protocol.TensorWire.BFloat16 ? ", bf16 wire (not exact)" : "";

    public static int Finish(TrainingResult result, JobOptions job, TextWriter stdout)
    {
        stdout.WriteLine($"final test accuracy {result.Epochs[^1].TestAccuracy:P2}  final_weights_sha256 {result.FinalWeightsSha256}");
        stdout.WriteLine($"wrote {Path.Combine(job.Out, RunOutputs.MetricsFile)} and {Path.Combine(job.Out, RunOutputs.ModelFile)}");
        return ExitCodes.Success;
    }
}
