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
    private readonly GradientAccumulator? _blockSum;
    private readonly ReductionPlan _plan;
    private readonly float[][] _shardSums;
    private readonly ShardOutcome[] _outcomes;
    private readonly int _shards;

    private readonly bool _onePass;

    /// <param name="onePass">
    /// Compute all of a batch's shards in one pass with segmented reductions (same bits, fewer and
    /// larger products) when every shard has at most <see cref="Gemm.KC"/> samples; else side by side on replicas.
    /// </param>
    /// <param name="blocks">Reduction blocks (see <see cref="ReductionPlan"/>); 1 adds the shards in plain shard order.</param>
    public ShardedStep(Sequential<float> model, int shards, int replicas, bool onePass = true, int blocks = 1)
    {
        _onePass = onePass;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        _model = model;
        _shards = shards;
        _plan = new ReductionPlan(shards, blocks);
        _blockSum = blocks > 1 ? new GradientAccumulator(model.ParameterCount) : null;
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
            if (_plan.Blocks == 1)
            {
                RunBlockInOnePass(data, order, batchStart, batchCount, 0);
                GradientAccumulator.DivideInPlace(_model, batchCount);
                return Outcomes();
            }
            // Each block in one pass; the block sums are added in block order.
            for (int b = 0; b < _plan.Blocks; b++)
                if (RunBlockInOnePass(data, order, batchStart, batchCount, b)) _accumulator.Add(_model);
        }
        else if (_replicas.Length == 1)
        {
            // One replica: shard by shard, each product using every core.
            for (int b = 0; b < _plan.Blocks; b++)
            {
                var (first, count) = _plan.Block(b);
                for (int s = first; s < first + count; s++)
                    if (RunShard(_replicas[0], data, order, batchStart, batchCount, s)) (_blockSum ?? _accumulator).Add(_model);
                EndBlock();
            }
        }
        else
        {
            // Replica r takes a contiguous block of shards; every shard's sum is kept apart so that the
            // reduction below is in the plan's order whatever finished first.
            CoreTeam.For(_replicas.Length, r =>
            {
                using var _ = Gemm.SerialOnThisThread();
                for (int s = r * _shards / _replicas.Length; s < (r + 1) * _shards / _replicas.Length; s++)
                    if (RunShard(_replicas[r], data, order, batchStart, batchCount, s))
                        _replicas[r].Model.CopyGradientsTo(_shardSums[s]);
            });
            for (int b = 0; b < _plan.Blocks; b++)
            {
                var (first, count) = _plan.Block(b);
                for (int s = first; s < first + count; s++)
                    if (_outcomes[s].Samples > 0) (_blockSum ?? _accumulator).Add(_shardSums[s]);
                EndBlock();
            }
        }
        _accumulator.WriteMeanTo(_model, batchCount);
        return Outcomes();
    }

    // A finished block's sum joins the total (with one block the shards went straight into the total).
    private void EndBlock()
    {
        if (_blockSum is null || _blockSum.ShardsAdded == 0) return;
        _accumulator.Add(_blockSum.Total);
        _blockSum.Reset();
    }

    /// <summary>Block b's non-empty shards in one segmented pass; the model's gradients then hold the block's sum. False when the block is empty.</summary>
    private bool RunBlockInOnePass(ImageSet data, int[] order, int batchStart, int batchCount, int block)
    {
        var (first, count) = _plan.Block(block);
        var ranges = Enumerable.Range(first, count).Select(s => (Shard: s, Range: ShardPlan.Range(batchCount, _shards, s))).ToArray();
        foreach (var (s, _) in ranges) _outcomes[s] = default;
        var live = ranges.Where(r => r.Range.Count > 0).ToArray();
        if (live.Length == 0) return false;
        int start = live[0].Range.Start, end = live[^1].Range.Start + live[^1].Range.Count;
        var bounds = live.Select(r => r.Range.Start - start).Append(end - start).ToArray();
        var outcomes = _replicas[0].Run(data, order.AsSpan(batchStart + start, end - start), bounds);
        for (int i = 0; i < live.Length; i++) _outcomes[live[i].Shard] = outcomes[i];
        return true;
    }

    private (double LossSum, int Correct) Outcomes() =>
        (_plan.SumLosses(_outcomes.Select(o => o.LossSum).ToArray()), _outcomes.Sum(o => o.Correct));

    private bool RunShard(ShardTrainer trainer, ImageSet data, int[] order, int batchStart, int batchCount, int shard)
    {
        var (start, count) = ShardPlan.Range(batchCount, _shards, shard);
        _outcomes[shard] = count == 0 ? default : trainer.Run(data, order.AsSpan(batchStart + start, count));
        return count > 0;
    }
}
