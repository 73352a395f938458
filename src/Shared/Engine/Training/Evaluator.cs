using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>Loss and accuracy of a model on a data set, plus its confusion matrix.</summary>
/// <param name="Confusion">Confusion[actual, predicted] counts.</param>
public sealed record Evaluation(int Samples, double MeanLoss, int Correct, int[,] Confusion)
{
    public double Accuracy => (double)Correct / Samples;

    public int Classes => Confusion.GetLength(0);

    /// <summary>Of the samples predicted as <paramref name="c"/>, the share that are c (NaN when none was predicted c).</summary>
    public double Precision(int c) => (double)Confusion[c, c] / Enumerable.Range(0, Classes).Sum(a => Confusion[a, c]);

    /// <summary>Of the samples that are <paramref name="c"/>, the share predicted c (NaN when there are none).</summary>
    public double Recall(int c) => (double)Confusion[c, c] / Enumerable.Range(0, Classes).Sum(p => Confusion[c, p]);
}

/// <summary>Evaluates a model in fixed-size batches (forward only).</summary>
public static class Evaluator
{
    /// <summary>Values a convolution's im2col buffer may hold in one evaluation pass (16 M floats, 64 MB).</summary>
    public const long ColumnBudget = 16L << 20;

    /// <param name="batchSize">Images per forward pass, lowered for convolutional models so that im2col stays within <see cref="ColumnBudget"/>.</param>
    public static Evaluation Evaluate(Sequential<float> model, ImageSet data, int batchSize = 1000)
    {
        batchSize = Math.Min(batchSize, ImagesPerPass(model));
        var loss = new SoftmaxCrossEntropy<float>(LossReduction.Sum);
        var batch = new BatchBuilder();
        var confusion = new int[data.Classes, data.Classes];
        double lossSum = 0;
        int correct = 0;
        var indices = new int[batchSize];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, data.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            var (x, t) = batch.Build(data, indices.AsSpan(0, n));
            var logits = model.Forward(x);
            lossSum += loss.Forward(logits, t);
            for (int i = 0; i < n; i++)
            {
                int predicted = logits.ArgMaxOfRow(i);
                int actual = data.Labels[start + i];
                confusion[actual, predicted]++;
                if (predicted == actual) correct++;
            }
        }
        return new Evaluation(data.Count, lossSum / data.Count, correct, confusion);
    }

    // A convolution lowers each image to Positions × PatchSize values; a 1,000-image pass of the CNN's second one would take 660 MB.
    private static int ImagesPerPass(Sequential<float> model)
    {
        long perImage = model.Layers.OfType<Conv2d<float>>().Select(c => (long)c.Geometry.Positions * c.Geometry.PatchSize).DefaultIfEmpty(1).Max();
        return (int)Math.Clamp(ColumnBudget / perImage, 1, int.MaxValue);
    }
}
