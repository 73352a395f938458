using System.Text.Json;
using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Shared.Data;
using Distributed.Shared.Models;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distributed.Tests.Cli;

/// <summary>Using a trained model: evaluate and export (one small model trained once for the class).</summary>
public class ModelCommandSpecs : IClassFixture<ModelCommandSpecs.TrainedModel>
{
    public sealed class TrainedModel : IDisposable
    {
        public string Folder { get; } = Directory.CreateTempSubdirectory("model-").FullName;

        public string ModelPath => Path.Combine(Folder, "model.safetensors");

        public TrainedModel()
        {
            var error = new StringWriter();
            int code = Program.Run(["train", "--workers", "0", "--train-limit", "6000", "--test-limit", "1000", "--epochs", "1",
                "--hidden", "64,32", "--out", Folder], new StringWriter(), error);
            if (code != 0) throw new InvalidOperationException(error.ToString());
        }

        public void Dispose() => Directory.Delete(Folder, true);
    }

    private readonly TrainedModel _trained;

    public ModelCommandSpecs(TrainedModel trained) => _trained = trained;

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Evaluate_should_report_the_accuracy_training_measured_and_a_consistent_confusion_matrix()
    {
        var (code, output, error) = Run("evaluate", "--model", _trained.ModelPath, "--test-limit", "1000");
        Assert.True(code == 0, error);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(_trained.Folder, "metrics.json")));
        double trained = metrics.RootElement.GetProperty("final_test_accuracy").GetDouble();
        Assert.Contains($"accuracy {trained:P2}", output);
        Assert.Contains("784-64-32-10", output);
        Assert.Contains("confusion matrix", output);

        var (model, _) = ModelFile.Load(_trained.ModelPath);
        var e = Evaluator.Evaluate(model, MnistLoader.Load(RepositoryRoot.BundledData, 1, 1000).Test);
        Assert.Equal(1000, Enumerable.Range(0, 10).Sum(a => Enumerable.Range(0, 10).Sum(p => e.Confusion[a, p])));
        // Recall of class c by hand: diagonal over its row.
        int row3 = Enumerable.Range(0, 10).Sum(p => e.Confusion[3, p]);
        Assert.Equal((double)e.Confusion[3, 3] / row3, e.Recall(3), 12);
    }

    [Fact]
    public void Evaluate_should_refuse_a_file_that_is_not_a_model()
    {
        string path = Path.Combine(_trained.Folder, "metrics.json");
        var (code, _, error) = Run("evaluate", "--model", path);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("metrics.json", error);
    }

    [Fact]
    public void The_exported_onnx_model_should_predict_what_we_predict_on_the_test_set()
    {
        string onnx = Path.Combine(_trained.Folder, "model.onnx");
        var (code, output, error) = Run("export", "--model", _trained.ModelPath, "--onnx", onnx);
        Assert.True(code == 0, error);
        Assert.Contains("opset 13", output);

        var (model, _) = ModelFile.Load(_trained.ModelPath);
        var test = MnistLoader.Load(RepositoryRoot.BundledData).Test;
        var indices = Enumerable.Range(0, test.Count).ToArray();
        var (x, _) = new BatchBuilder().Build(test, indices);
        var ours = model.Forward(x);

        var input = new DenseTensor<float>([test.Count, 784]);
        for (int i = 0; i < test.Count; i++)
            for (int f = 0; f < 784; f++) input[i, f] = x[i, f];
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)], ["probabilities", "logits"]);
        var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
        var probabilities = results.Single(r => r.Name == "probabilities").AsTensor<float>();

        int agree = 0;
        double worst = 0;
        for (int i = 0; i < test.Count; i++)
        {
            int theirs = Enumerable.Range(0, 10).MaxBy(c => logits[i, c]);
            if (theirs == ours.ArgMaxOfRow(i)) agree++;
            for (int c = 0; c < 10; c++) worst = Math.Max(worst, Math.Abs(logits[i, c] - ours[i, c]));
            Assert.Equal(1.0, Enumerable.Range(0, 10).Sum(c => (double)probabilities[i, c]), 4);
        }
        Assert.Equal(test.Count, agree);
        Assert.True(worst < 1e-3, $"largest logit difference {worst}");
    }

    [Fact]
    public void Predict_should_read_ordinary_pictures_of_digits_like_the_mnist_originals()
    {
        var test = MnistLoader.Load(RepositoryRoot.BundledData, 1, 20).Test;
        var (model, _) = ModelFile.Load(_trained.ModelPath);
        var (x, _) = new BatchBuilder().Build(test, Enumerable.Range(0, 20).ToArray());
        var ours = model.Forward(x);
        var files = new List<string>();
        for (int i = 0; i < 20; i++)
        {
            // Dark ink on white paper, five times larger, with a margin: not MNIST's convention.
            using var bitmap = new SkiaSharp.SKBitmap(180, 160);
            bitmap.Erase(SkiaSharp.SKColors.White);
            var image = test.Image(i);
            for (int y = 0; y < 140; y++)
                for (int xx = 0; xx < 140; xx++)
                {
                    byte v = (byte)(255 - image[(y / 5) * 28 + xx / 5]);
                    bitmap.SetPixel(xx + 25, y + 10, new SkiaSharp.SKColor(v, v, v));
                }
            string path = Path.Combine(_trained.Folder, $"digit{i}.png");
            using (var file = File.Create(path)) bitmap.Encode(file, SkiaSharp.SKEncodedImageFormat.Png, 100);
            files.Add(path);
        }
        var (code, output, error) = Run(["predict", "--model", _trained.ModelPath, .. files]);
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(20, lines.Length);
        int agree = 0;
        for (int i = 0; i < 20; i++)
        {
            var match = System.Text.RegularExpressions.Regex.Match(lines[i], @"digit(\d+)\.png: (\d)");
            Assert.True(match.Success, lines[i]);
            if (int.Parse(match.Groups[2].Value) == ours.ArgMaxOfRow(int.Parse(match.Groups[1].Value))) agree++;
        }
        Assert.True(agree == 20, $"only {agree} of 20 pictures got the prediction of their MNIST original:\n{output}");
    }

    [Fact]
    public void Predict_should_refuse_a_file_that_is_not_an_image()
    {
        string path = Path.Combine(_trained.Folder, "not-an-image.png");
        File.WriteAllText(path, "hello");
        var (code, _, error) = Run("predict", "--model", _trained.ModelPath, path);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("not-an-image.png: not a PNG or JPEG image", error);
    }
}
