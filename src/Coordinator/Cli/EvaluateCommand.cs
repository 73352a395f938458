using System.CommandLine;
using Distributed.Shared.Data;
using Distributed.Shared.Models;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary><c>evaluate</c>: a trained model's accuracy, per-class precision and recall, and confusion matrix on a test set.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A model.safetensors written by train.", Required = true };
        var data = new Option<string?>("--data") { Description = "Folder with the MNIST IDX files (its t10k files are used). Default: the bundled data/mnist." };
        var limit = new Option<int?>("--test-limit") { Description = "Use only the first N test images." };
        var command = new Command("evaluate", "Evaluate a trained model on the test set: accuracy, per-class precision and recall, confusion matrix.") { model, data, limit };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(data), parse.GetValue(limit),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string modelPath, string? dataFolder, int? testLimit, TextWriter stdout, TextWriter stderr)
    {
        if (testLimit is <= 0)
        {
            stderr.WriteLine($"error: --test-limit must be at least 1 (got {testLimit}).");
            return ExitCodes.InvalidArguments;
        }
        return TrainCommand.Guarded(stderr, () =>
        {
            var (model, architecture) = ModelFile.Load(modelPath);
            var data = MnistLoader.Load(dataFolder ?? DataLocator.DefaultFolder(), trainLimit: 1, testLimit);
            if (data.Test.PixelsPerImage != architecture.Inputs || data.Test.Classes != architecture.Outputs)
                throw new DataFormatException(modelPath, $"the model takes {architecture.Inputs} inputs and gives {architecture.Outputs} classes; " +
                    $"the data has {data.Test.PixelsPerImage} pixels per image and {data.Test.Classes} classes.");
            var e = Evaluator.Evaluate(model, data.Test);
            stdout.WriteLine($"model {modelPath} ({architecture}), {e.Samples} test images from {data.Folder}");
            stdout.WriteLine($"accuracy {e.Accuracy:P2} ({e.Correct}/{e.Samples})  mean loss {e.MeanLoss:F4}");
            stdout.WriteLine();
            stdout.WriteLine("class  precision  recall   samples");
            for (int c = 0; c < e.Classes; c++)
                stdout.WriteLine($"{c,5}  {e.Precision(c),9:P2}  {e.Recall(c),7:P2}  {Enumerable.Range(0, e.Classes).Sum(p => e.Confusion[c, p]),7}");
            stdout.WriteLine();
            stdout.WriteLine("confusion matrix (rows: actual, columns: predicted)");
            stdout.WriteLine("      " + string.Concat(Enumerable.Range(0, e.Classes).Select(p => $"{p,6}")));
            for (int a = 0; a < e.Classes; a++)
                stdout.WriteLine($"{a,5} " + string.Concat(Enumerable.Range(0, e.Classes).Select(p => $"{e.Confusion[a, p],6}")));
            return ExitCodes.Success;
        });
    }
}
