using System.CommandLine;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Models;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;
using SkiaSharp;

namespace Distributed.Coordinator.Cli;

/// <summary><c>predict</c>: the digit in ordinary PNG/JPEG pictures, with class probabilities.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A model.safetensors written by train.", Required = true };
        var images = new Argument<string[]>("images") { Description = "PNG or JPEG pictures of one digit each (any size, dark on light or light on dark).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("predict", "Predict the digit in pictures: converted to MNIST's 28×28 convention, then classified.") { model, images };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(images)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string modelPath, string[] images, TextWriter stdout, TextWriter stderr) => TrainCommand.Guarded(stderr, () =>
    {
        var (model, architecture) = ModelFile.Load(modelPath);
        if (architecture.Inputs != DigitImage.Size * DigitImage.Size)
            throw new DataFormatException(modelPath, $"the model takes {architecture.Inputs} inputs, not 28×28 = 784 pixels.");
        var softmax = new Softmax<float>();
        foreach (var image in images)
        {
            var pixels = DigitImage.ToMnist(Gray(image, out int width, out int height), width, height);
            var x = Matrix<float>.Build.Dense(1, pixels.Length, (_, j) => pixels[j] / 255f);
            var p = softmax.Forward(model.Forward(x));
            int digit = p.ArgMaxOfRow(0);
            stdout.WriteLine($"{image}: {digit}  ({width}×{height})  " +
                string.Join(" ", Enumerable.Range(0, p.ColumnCount).Select(c => $"{c}:{p[0, c]:0.000}")));
        }
        return ExitCodes.Success;
    });

    /// <summary>Decodes a picture and returns its luminance (0.299 R + 0.587 G + 0.114 B), composited over white.</summary>
    public static byte[] Gray(string path, out int width, out int height)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "image not found.");
        using var bitmap = SKBitmap.Decode(path) ?? throw new DataFormatException(path, "not a PNG or JPEG image this program can decode.");
        (width, height) = (bitmap.Width, bitmap.Height);
        var gray = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                double a = c.Alpha / 255.0;
                double luminance = 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;
                gray[y * width + x] = (byte)Math.Round(a * luminance + (1 - a) * 255);
            }
        return gray;
    }
}
