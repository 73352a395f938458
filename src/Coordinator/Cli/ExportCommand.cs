using System.CommandLine;
using Distributed.Coordinator.Training;
using Distributed.Shared.Models;

namespace Distributed.Coordinator.Cli;

/// <summary><c>export</c>: writes a trained model as ONNX.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A model.safetensors written by train.", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "Where to write the ONNX model.", Required = true };
        var command = new Command("export", "Export a trained model to ONNX (input: [batch, 784] pixels / 255; outputs: probabilities, logits).") { model, onnx };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(onnx)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string modelPath, string onnxPath, TextWriter stdout, TextWriter stderr) => TrainCommand.Guarded(stderr, () =>
    {
        var (model, architecture) = ModelFile.Load(modelPath);
        try
        {
            OnnxExporter.Write(onnxPath, model, architecture.Inputs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputException(onnxPath, e.Message);
        }
        stdout.WriteLine($"wrote {onnxPath}: ONNX opset 13, {architecture}, input \"input\" [batch, {architecture.Inputs}] (pixels / 255), outputs \"probabilities\" and \"logits\"");
        return ExitCodes.Success;
    });
}
