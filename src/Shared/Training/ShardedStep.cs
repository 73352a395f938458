using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>
/// One global batch's gradient on this machine: the batch's virtual shards are computed by model
/// replicas side by side (one per core, each product on its own thread), exactly as workers would
/// compute them, and the shard sums are added in shard order. The replicas share the model's
/// parameter values; the mean gradient ends up in the model's gradients.
/// </summary>
public sealed class ShardedStep
{
    private readonly Sequential<float> _model;
    private readonly ShardTrainer[] _replicas;
    private readonly GradientAccumulator _accumulator;
    private readonly float[][] _shardSums;
    private readonly ShardOutcome[] _outcomes;
    private readonly int _shards;

    private readonly bool _onePass;

    /// <param name="onePass">
    /// Compute all of a batch's shards in one pass with segmented reductions (same bits, fewer and
    /// larger products) when every shard has at most <see cref="Gemm.KC"/> samples; else side by side on replicas.
    /// </param>
    public ShardedStep(Sequential<float> model, int shards, int replicas, bool onePass = true)
    {
        _onePass = onePass;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        _model = model;
        _shards = shards;
        replicas = Math.Clamp(replicas, 1, shards);
        _replicas = Enumerable.Range(0, replicas).Select(r => new ShardTrainer(r == 0 ? model : model.ReplicaSharingValues())).ToArray();
        _accumulator = new GradientAccumulator(model.ParameterCount);
        _shardSums = Enumerable.Range(0, shards).Select(_ => replicas > 1 ? new float[model.ParameterCount] : []).ToArray();
        _outcomes = new ShardOutcome[shards];
    }

    public int Replicas => _replicas.Length;

    public bool OnePass => _onePass;

    /// <summary>Computes the batch's mean gradient into the model's gradients; returns the batch's loss sum and correct count.</summary>
    public (double LossSum, int Correct) Run(ImageSet data, int[] order, int batchStart, int batchCount)
    {
        _accumulator.Reset();
        if (_onePass && (batchCount + _shards - 1) / _shards <= Gemm.KC)
        {
            var bounds = Enumerable.Range(0, _shards).Select(s => ShardPlan.Range(batchCount, _shards, s))
                .Where(r => r.Count > 0).Select(r => r.Start).Append(batchCount).ToArray();
            var outcomes = _replicas[0].Run(data, order.AsSpan(batchStart, batchCount), bounds);
            GradientAccumulator.DivideInPlace(_model, batchCount);
            return (outcomes.Sum(o => o.LossSum), outcomes.Sum(o => o.Correct));
        }
        if (_replicas.Length == 1)
        {
            // One replica: shard by shard, each product using every core.
            for (int s = 0; s < _shards; s++)
                if (RunShard(_replicas[0], data, order, batchStart, batchCount, s)) _accumulator.Add(_model);
        }
        else
        {
            // Replica r takes a contiguous block of shards; every shard's sum is kept apart so that the
            // reduction below is in shard order whatever finished first.
            Parallel.For(0, _replicas.Length, new ParallelOptions { MaxDegreeOfParallelism = _replicas.Length }, r =>
            {
                using var _ = Gemm.SerialOnThisThread();
                for (int s = r * _shards / _replicas.Length; s < (r + 1) * _shards / _replicas.Length; s++)
                    if (RunShard(_replicas[r], data, order, batchStart, batchCount, s))
                        _replicas[r].Model.CopyGradientsTo(_shardSums[s]);
            });
            for (int s = 0; s < _shards; s++)
                if (_outcomes[s].Samples > 0) _accumulator.Add(_shardSums[s]);
        }
        _accumulator.WriteMeanTo(_model, batchCount);
        double loss = 0;
        int correct = 0;
        foreach (var o in _outcomes) (loss, correct) = (loss + o.LossSum, correct + o.Correct);
        return (loss, correct);
    }

    private bool RunShard(ShardTrainer trainer, ImageSet data, int[] order, int batchStart, int batchCount, int shard)
    {
        var (start, count) = ShardPlan.Range(batchCount, _shards, shard);
        _outcomes[shard] = count == 0 ? default : trainer.Run(data, order.AsSpan(batchStart + start, count));
        return count > 0;
    }
}
