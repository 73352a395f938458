using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>What one shard's forward and backward produced (its gradient sum is in the model's gradients).</summary>
public readonly record struct ShardOutcome(int Samples, double LossSum, int Correct);

/// <summary>
/// Forward and fused softmax-cross-entropy backward on one shard, with the loss summed (not averaged)
/// over the shard, so the model's gradients hold the shard's gradient sum: Σ over shards in shard
/// order, divided by the global batch size, is the batch's mean gradient. Used by workers and by
/// single-process training alike, so both compute the same bits.
/// </summary>
public sealed class ShardTrainer(Sequential<float> model)
{
    private readonly SoftmaxCrossEntropy<float> _loss = new(LossReduction.Sum);
    private readonly BatchBuilder _batch = new();

    public Sequential<float> Model { get; } = model;

    public ShardOutcome Run(ImageSet data, ReadOnlySpan<int> samples)
    {
        if (samples.IsEmpty) throw new ArgumentException("A shard needs at least one sample.", nameof(samples));
        var (x, t) = _batch.Build(data, samples);
        var logits = Model.Forward(x);
        float lossSum = _loss.Forward(logits, t);
        int correct = 0;
        for (int i = 0; i < samples.Length; i++)
            if (logits.ArgMaxOfRow(i) == data.Labels[samples[i]]) correct++;
        Model.Backward(_loss.Backward().InputGradient);
        return new ShardOutcome(samples.Length, lossSum, correct);
    }
}
