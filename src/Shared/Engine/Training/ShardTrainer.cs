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
/// single-process training alike, so both compute the same bits. Every pass is a training pass
/// keyed by the run's <paramref name="seed"/>, the step and the samples (<see cref="ForwardContext"/>).
/// </summary>
public sealed class ShardTrainer(Sequential<float> model, int seed)
{
    private readonly SoftmaxCrossEntropy<float> _loss = new(LossReduction.Sum);
    private readonly BatchBuilder _batch = new();

    public Sequential<float> Model { get; } = model;

    /// <summary>
    /// Several consecutive shards in one pass (<paramref name="segments"/>: their boundaries within
    /// <paramref name="samples"/>): the model's gradients end up holding the shards' gradient sums
    /// added in shard order, the same bits as running them one by one and adding (products are
    /// row-independent; only the reduction over rows is segmented). Requires shards of at most
    /// <see cref="Numerics.Gemm.KC"/> samples.
    /// </summary>
    public ShardOutcome[] Run(ImageSet data, ReadOnlySpan<int> samples, int[] segments, long step)
    {
        if (segments.Zip(segments.Skip(1)).Any(p => p.Second - p.First > Numerics.Gemm.KC))
            throw new ArgumentException($"Shards of more than {Numerics.Gemm.KC} samples cannot be computed in one pass.", nameof(segments));
        var (x, t) = _batch.Build(data, samples);
        var logits = Model.Forward(x, new ForwardContext(seed, step, samples.ToArray()));
        _loss.Forward(logits, t);
        var losses = _loss.SegmentSums(segments);
        var outcomes = new ShardOutcome[segments.Length - 1];
        for (int s = 0; s < outcomes.Length; s++)
        {
            int correct = 0;
            for (int i = segments[s]; i < segments[s + 1]; i++)
                if (logits.ArgMaxOfRow(i) == data.Labels[samples[i]]) correct++;
            outcomes[s] = new ShardOutcome(segments[s + 1] - segments[s], losses[s], correct);
        }
        Model.Backward(_loss.Backward().InputGradient, gradients: GradientSink<float>.InGroups(segments));
        return outcomes;
    }

    public ShardOutcome Run(ImageSet data, ReadOnlySpan<int> samples, long step)
    {
        if (samples.IsEmpty) throw new ArgumentException("A shard needs at least one sample.", nameof(samples));
        var (x, t) = _batch.Build(data, samples);
        var logits = Model.Forward(x, new ForwardContext(seed, step, samples.ToArray()));
        float lossSum = _loss.Forward(logits, t);
        int correct = 0;
        for (int i = 0; i < samples.Length; i++)
            if (logits.ArgMaxOfRow(i) == data.Labels[samples[i]]) correct++;
        Model.Backward(_loss.Backward().InputGradient);
        return new ShardOutcome(samples.Length, lossSum, correct);
    }
}
