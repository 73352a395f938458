using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Distributed.Tests.Cli;

/// <summary>An exported ONNX model run by OnnxRuntime against our own forward pass on the same images.</summary>
public static class OnnxComparison
{
    /// <summary>The largest |logit difference| over <paramref name="images"/>, and on how many of them the predicted class agrees.</summary>
    public static (double WorstLogitDifference, int SameClass) Compare(string onnxPath, Sequential<float> ours, ImageSet images)
    {
        var (x, _) = new BatchBuilder().Build(images, Enumerable.Range(0, images.Count).ToArray());
        var input = new DenseTensor<float>([images.Count, x.ColumnCount]);
        for (int i = 0; i < images.Count; i++)
            for (int f = 0; f < x.ColumnCount; f++) input[i, f] = x[i, f];
        using var session = new InferenceSession(onnxPath);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)], ["logits"]);
        var logits = results.Single().AsTensor<float>();
        // Ours in passes of 1,000 images, as evaluation runs it (a convolution's im2col of all 10,000 would not fit).
        double worst = 0;
        int same = 0;
        for (int start = 0; start < images.Count; start += 1000)
        {
            int n = Math.Min(1000, images.Count - start);
            var expected = ours.Forward(x.SubMatrix(start, n, 0, x.ColumnCount));
            for (int i = 0; i < n; i++)
            {
                int best = 0, onnxBest = 0;
                for (int c = 0; c < expected.ColumnCount; c++)
                {
                    worst = Math.Max(worst, Math.Abs(logits[start + i, c] - expected[i, c]));
                    if (expected[i, c] > expected[i, best]) best = c;
                    if (logits[start + i, c] > logits[start + i, onnxBest]) onnxBest = c;
                }
                if (best == onnxBest) same++;
            }
        }
        return (worst, same);
    }
}
