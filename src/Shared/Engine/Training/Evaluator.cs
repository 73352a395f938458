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
    public static Evaluation Evaluate(Sequential<float> model, ImageSet data, int batchSize = 1000)
    {
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
}
