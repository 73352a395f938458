using System.CommandLine;
using Distributed.Coordinator.Cluster;
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
        double StepTimeoutSeconds = 5, double WorkerTimeoutSeconds = 60, int CheckpointEvery = 100, string? Resume = null, TlsSettings? Tls = null)
    {
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
            var checkpoints = new Checkpointer(job.Out, job.CheckpointEvery, stdout.WriteLine);
            if (job.Workers == 0)
            {
                var trainer = new LocalTrainer(run, stdout.WriteLine, job.Threads, checkpoints.OnStep);
                var result = trainer.Run();
                RunOutputs.Write(job.Out, "single-process", run.Options, data, trainer.Model, result);
                RunOutputs.WriteReport(job.Out, "single process", run.Options, data, trainer.Model, result, stdout);
                return Finish(result, job, stdout);
            }
            var outcome = ClusterSimulation.RunAsync(run.Options, data, job.Workers, stdout.WriteLine, job.FrameSize, supervision: job.Supervision,
                onStep: checkpoints.OnStep, resumeFrom: run, tls: job.Tls).GetAwaiter().GetResult();
            RunOutputs.Write(job.Out, $"cluster-simulation ({job.Workers} workers)", run.Options, data, outcome.Model, outcome.Result, outcome.Extra);
            RunOutputs.WriteReport(job.Out, $"cluster simulation, {job.Workers} workers", run.Options, data, outcome.Model, outcome.Result, stdout, outcome.WorkerEpochs);
            return Finish(outcome.Result, job, stdout);
        });
    }

    /// <summary>
    /// Checks the output folder, then either loads the data and starts a new run, or (with --resume)
    /// continues the run in a checkpoint, whose options then apply.
    /// </summary>
    public static TrainingRun Begin(TrainingOptions options, JobOptions job, TextWriter stdout)
    {
        RunOutputs.EnsureWritable(job.Out);
        if (job.Resume is null) return new TrainingRun(options, Prepare(options, job, stdout));
        var (run, path) = Checkpointer.Resume(job.Resume, job.Data);
        stdout.WriteLine($"resuming from {path}: epoch {run.Epoch}, batch {run.Batch} (step {run.Step}); the checkpoint's training options apply");
        return run;
    }

    public static IEnumerable<string> Validate(JobOptions job)
    {
        if (job.Threads <= 0) yield return $"--threads must be at least 1 (got {job.Threads}).";
        if (job.Workers < 0) yield return $"--workers must be 0 (single process) or more (got {job.Workers}).";
        if (job.FrameSize < 32_000) yield return $"--frame-size must be at least 32000 bytes (got {job.FrameSize}).";
        if (!(job.StepTimeoutSeconds > 0)) yield return $"--step-timeout must be a positive number of seconds (got {job.StepTimeoutSeconds}).";
        if (!(job.WorkerTimeoutSeconds > 0)) yield return $"--worker-timeout must be a positive number of seconds (got {job.WorkerTimeoutSeconds}).";
        foreach (var e in TlsOptions.Validate(job.Tls)) yield return e;
        if (job.CheckpointEvery < 0) yield return $"--checkpoint-every must be 0 (epoch ends only) or a positive number of steps (got {job.CheckpointEvery}).";
    }

    /// <summary>Runs a command body, turning the errors a user can cause into one line and an exit code.</summary>
    public static int Guarded(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (OutputException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.OutputFailed;
        }
        catch (ClusterConfigurationException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.InvalidArguments;
        }
        catch (ClusterRunFailedException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.RunFailed;
        }
    }

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
        $"batch {options.BatchSize} in {options.Shards} shards  seed {options.Seed}  kernel {(Gemm.UseSimd ? "AVX2/FMA" : "scalar")}  " +
        (job.Workers == 0 ? $"single process on {job.Threads} thread(s)" : $"cluster of {job.Workers} worker(s)");

    public static int Finish(TrainingResult result, JobOptions job, TextWriter stdout)
    {
        stdout.WriteLine($"final test accuracy {result.Epochs[^1].TestAccuracy:P2}  final_weights_sha256 {result.FinalWeightsSha256}");
        stdout.WriteLine($"wrote {Path.Combine(job.Out, RunOutputs.MetricsFile)} and {Path.Combine(job.Out, RunOutputs.ModelFile)}");
        return ExitCodes.Success;
    }
}
