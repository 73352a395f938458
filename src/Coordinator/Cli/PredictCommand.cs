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

    /// <summary>Largest picture decoded (pixels): a digit photo needs far fewer; a bigger header is refused before its pixels are allocated.</summary>
    public const long MaxPixels = 50_000_000;

    /// <summary>
    /// Decodes a picture and returns its luminance (0.299 R + 0.587 G + 0.114 B), composited over white.
    /// The size is checked from the header first, and a picture whose data ends early is an error
    /// (SKBitmap.Decode would fill the missing rows and classify what is left as a digit).
    /// </summary>
    public static byte[] Gray(string path, out int width, out int height)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "image not found.");
        if (new FileInfo(path).Length == 0) throw new DataFormatException(path, "empty, or not a regular file; not an image.");
        using var codec = SKCodec.Create(path) ?? throw new DataFormatException(path, "not a PNG or JPEG image this program can decode.");
        (width, height) = (codec.Info.Width, codec.Info.Height);
        if ((long)width * height > MaxPixels)
            throw new DataFormatException(path, $"the image is {width}×{height} pixels, more than this program decodes ({MaxPixels:N0}); scale it down.");
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var decoded = codec.GetPixels(info, bitmap.GetPixels());
        if (decoded != SKCodecResult.Success)
            throw new DataFormatException(path, decoded == SKCodecResult.IncompleteInput
                ? "the image data ends early (truncated file); not decoded."
                : $"the image cannot be decoded ({decoded}).");
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
