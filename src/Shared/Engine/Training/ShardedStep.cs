using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>
/// One global batch's gradient on this machine: the batch's virtual shards are computed by model
/// replicas side by side (one per core, each product on its own thread), exactly as workers would
/// compute them, and handed as pieces to the run's <see cref="StepCollector"/>, which adds them in
/// the reduction order (the same code the cluster's coordinator reduces with). The replicas share
/// the model's parameter values; the mean gradient ends up in the model's gradients.
/// </summary>
public sealed class ShardedStep
{
    private readonly Sequential<float> _model;
    private readonly ShardTrainer[] _replicas;
    private readonly StepCollector _collector;
    private readonly ReductionPlan _plan;
    private readonly float[][] _shardSums;
    private readonly ShardOutcome[] _outcomes;
    private readonly int[] _expected;
    private readonly int _shards;
    private readonly bool _onePass;

    /// <param name="onePass">
    /// Compute each block's shards in one pass with segmented reductions (same bits, fewer and
    /// larger products) when every shard has at most <see cref="Gemm.KC"/> samples; else side by side on replicas.
    /// </param>
    /// <param name="blocks">Reduction blocks (see <see cref="ReductionPlan"/>); 1 adds the shards in plain shard order.</param>
    /// <param name="seed">The run's seed, which keys dropout masks with the step and the samples.</param>
    public ShardedStep(Sequential<float> model, int shards, int replicas, int seed, bool onePass = true, int blocks = 1)
    {
        _onePass = onePass;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        _model = model;
        _shards = shards;
        _plan = new ReductionPlan(shards, blocks);
        _expected = new int[shards];
        _collector = new StepCollector(0, _expected, model.ParameterCount, _plan);
        replicas = Math.Clamp(replicas, 1, shards);
        _replicas = Enumerable.Range(0, replicas).Select(r => new ShardTrainer(r == 0 ? model : model.ReplicaSharingValues(), seed)).ToArray();
        _shardSums = Enumerable.Range(0, shards).Select(_ => replicas > 1 ? new float[model.ParameterCount] : []).ToArray();
        _outcomes = new ShardOutcome[shards];
    }

    public int Replicas => _replicas.Length;

    public bool OnePass => _onePass;

    /// <summary>Computes global step <paramref name="step"/>'s mean gradient into the model's gradients; returns the batch's loss sum and correct count.</summary>
    public (double LossSum, int Correct) Run(ImageSet data, int[] order, int batchStart, int batchCount, long step)
    {
        for (int s = 0; s < _shards; s++) _expected[s] = ShardPlan.Range(batchCount, _shards, s).Count;
        _collector.Begin(step, _expected);
        if (_onePass && (batchCount + _shards - 1) / _shards <= Gemm.KC)
        {
            // Each block in one pass: its sum is in the model's gradients, offered as one piece.
            for (int b = 0; b < _plan.Blocks; b++)
            {
                var (first, count) = _plan.Block(b);
                if (RunBlockInOnePass(data, order, batchStart, batchCount, b, step) is { } outcome)
                    _collector.Offer(step, first, count, outcome.Samples, outcome.LossSum, outcome.Correct, _model);
            }
        }
        else if (_replicas.Length == 1)
        {
            // One replica: shard by shard, each product using every core.
            for (int s = 0; s < _shards; s++)
                if (RunShard(_replicas[0], data, order, batchStart, batchCount, s, step))
                    _collector.Offer(step, s, 1, _outcomes[s].Samples, _outcomes[s].LossSum, _outcomes[s].Correct, _model);
        }
        else
        {
            // Replica r takes a contiguous block of shards; every shard's sum is kept apart and offered
            // afterwards in shard order, whatever finished first.
            CoreTeam.For(_replicas.Length, r =>
            {
                using var _ = Gemm.SerialOnThisThread();
                for (int s = r * _shards / _replicas.Length; s < (r + 1) * _shards / _replicas.Length; s++)
                    if (RunShard(_replicas[r], data, order, batchStart, batchCount, s, step))
                        _replicas[r].Model.CopyGradientsTo(_shardSums[s]);
            });
            for (int s = 0; s < _shards; s++)
                if (_outcomes[s].Samples > 0)
                    _collector.Offer(step, s, 1, _outcomes[s].Samples, _outcomes[s].LossSum, _outcomes[s].Correct, _shardSums[s]);
        }
        _collector.WriteMeanTo(_model);
        return (_collector.LossSum, _collector.Correct);
    }

    /// <summary>
    /// Block b's non-empty shards in one segmented pass; the model's gradients then hold the block's
    /// sum, and the outcome sums the shards' losses in shard order (as a worker's piece does). Null when the block is empty.
    /// </summary>
    private ShardOutcome? RunBlockInOnePass(ImageSet data, int[] order, int batchStart, int batchCount, int block, long step)
    {
        var (first, count) = _plan.Block(block);
        var live = Enumerable.Range(first, count).Select(s => ShardPlan.Range(batchCount, _shards, s)).Where(r => r.Count > 0).ToArray();
        if (live.Length == 0) return null;
        int start = live[0].Start, end = live[^1].Start + live[^1].Count;
        var bounds = live.Select(r => r.Start - start).Append(end - start).ToArray();
        var outcomes = _replicas[0].Run(data, order.AsSpan(batchStart + start, end - start), bounds, step);
        double loss = 0;
        foreach (var o in outcomes) loss += o.LossSum;
        return new ShardOutcome(end - start, loss, outcomes.Sum(o => o.Correct));
    }

    private bool RunShard(ShardTrainer trainer, ImageSet data, int[] order, int batchStart, int batchCount, int shard, long step)
    {
        var (start, count) = ShardPlan.Range(batchCount, _shards, shard);
        _outcomes[shard] = count == 0 ? default : trainer.Run(data, order.AsSpan(batchStart + start, count), step);
        return count > 0;
    }
}
