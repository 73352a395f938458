using System.CommandLine;
using Distributed.Coordinator.Training;
using Distributed.Shared.Data;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary><c>train</c>: trains the MLP on MNIST and writes metrics.json and model.safetensors.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var binder = new TrainingOptionsBinder();
        var command = new Command("train", "Train the MLP on MNIST (single process) and write metrics.json and model.safetensors.");
        foreach (var option in binder.All) command.Options.Add(option);
        command.SetAction(parse => Run(binder.Bind(parse), parse.GetValue(binder.Data), parse.GetValue(binder.Out)!, parse.GetValue(binder.Threads),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(TrainingOptions options, string? dataFolder, string outFolder, int threads, TextWriter stdout, TextWriter stderr)
    {
        var errors = options.Validate().ToList();
        if (threads <= 0) errors.Add($"--threads must be at least 1 (got {threads}).");
        if (errors.Count > 0)
        {
            foreach (var e in errors) stderr.WriteLine($"error: {e}");
            return ExitCodes.InvalidArguments;
        }
        Gemm.MaxThreads = threads;
        try
        {
            RunOutputs.EnsureWritable(outFolder);
            string folder = dataFolder ?? DataLocator.DefaultFolder();
            var data = MnistLoader.Load(folder, options.TrainLimit, options.TestLimit);
            stdout.WriteLine($"data: {data.Folder}  train {data.Train.Count}  test {data.Test.Count}  " +
                (data.VerifiedFiles.Count > 0 ? $"SHA-256 verified: {data.VerifiedFiles.Count} files" : "no SHA256SUMS entries checked"));
            var trainer = new LocalTrainer(options, data, stdout.WriteLine, replicas: threads);
            stdout.WriteLine($"model: {Shared.Layers.Mlp.Describe(data.Train.PixelsPerImage, options.Hidden, data.Train.Classes)} " +
                $"({trainer.Model.ParameterCount:N0} parameters)  optimizer {options.Optimizer} lr {options.LearningRate} {options.Schedule}  " +
                $"batch {options.BatchSize} in {options.Shards} shards  seed {options.Seed}  kernel {(Gemm.UseSimd ? "AVX2/FMA" : "scalar")} x{threads}");
            var result = trainer.Run();
            RunOutputs.Write(outFolder, "single-process", options, data, trainer.Model, result);
            stdout.WriteLine($"final test accuracy {result.Epochs[^1].TestAccuracy:P2}  final_weights_sha256 {result.FinalWeightsSha256}");
            stdout.WriteLine($"wrote {Path.Combine(outFolder, RunOutputs.MetricsFile)} and {Path.Combine(outFolder, RunOutputs.ModelFile)}");
            return ExitCodes.Success;
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
    }
}
