using Distributed.Shared.Layers;

namespace Distributed.Shared.Training;

/// <summary>What became of one shard result offered to a <see cref="StepCollector"/>.</summary>
public enum ShardVerdict
{
    /// <summary>Counted (added now, or held until the shards before it arrive).</summary>
    Accepted,

    /// <summary>For another step (late, or from the future): dropped.</summary>
    WrongStep,

    /// <summary>A shard number outside the run's shards: dropped.</summary>
    UnknownShard,

    /// <summary>This shard was already counted: dropped.</summary>
    Duplicate,

    /// <summary>Sample count, gradient length, correct count (beyond 0…samples) or loss (negative) is not what was assigned could give: dropped.</summary>
    Malformed,

    /// <summary>The gradient holds NaN or infinity: dropped.</summary>
    NotFinite,

    /// <summary>From a worker that was never given this shard: dropped.</summary>
    NotAssigned,

    /// <summary>For another run: dropped.</summary>
    WrongRun,
}

public static class ShardVerdicts
{
    /// <summary>Bad results (as opposed to merely late or repeated ones) count against the worker that sent them.</summary>
    public static bool IsBad(this ShardVerdict v) => v is ShardVerdict.Malformed or ShardVerdict.NotFinite or ShardVerdict.NotAssigned or ShardVerdict.UnknownShard;
}

/// <summary>
/// Collects one step's gradient pieces (a shard's gradient sum, or the sum of shards that start a
/// block), in whatever order they arrive, and adds them in the order the run's
/// <see cref="ReductionPlan"/> fixes: within each block in shard order, then the blocks in order.
/// A piece is added as soon as everything before it in its block has been, so at most the
/// out-of-order ones are held. Pure: the coordinator actor only forwards results and acts on the verdicts.
/// </summary>
public sealed class StepCollector
{
    private readonly ReductionPlan _plan;
    private readonly GradientAccumulator _total;
    private readonly GradientAccumulator[] _blockSums;
    private readonly double[] _blockLosses;
    private readonly int[] _nextInBlock;
    private readonly int[] _expectedSamples;
    private readonly bool[] _received;
    private readonly SortedDictionary<int, (int Count, float[] Gradient, double Loss, Action? Consumed)> _waiting = [];
    private int _nextBlock;

    /// <param name="step">The step these results belong to.</param>
    /// <param name="expectedSamples">Samples assigned to each shard (0 for an empty shard, which needs no result).</param>
    /// <param name="parameterCount">Length of each gradient.</param>
    /// <param name="plan">The run's reduction order (null: one block, plain shard order).</param>
    public StepCollector(long step, IReadOnlyList<int> expectedSamples, int parameterCount, ReductionPlan? plan = null)
    {
        Step = step;
        _expectedSamples = expectedSamples.ToArray();
        _plan = plan ?? new ReductionPlan(_expectedSamples.Length, 1);
        if (_plan.Shards != _expectedSamples.Length) throw new ArgumentException($"The plan has {_plan.Shards} shards, the step {_expectedSamples.Length}.");
        _received = _expectedSamples.Select(n => n == 0).ToArray();
        _total = new GradientAccumulator(parameterCount);
        // With one block the block's sum is the total; with more, each block sums apart first.
        _blockSums = Enumerable.Range(0, _plan.Blocks).Select(_ => _plan.Blocks == 1 ? _total : new GradientAccumulator(parameterCount)).ToArray();
        _blockLosses = new double[_plan.Blocks];
        _nextInBlock = Enumerable.Range(0, _plan.Blocks).Select(b => _plan.Block(b).First).ToArray();
        for (int b = 0; b < _plan.Blocks; b++) SkipEmpty(b);
        CompleteBlocks();
    }

    public long Step { get; }

    /// <summary>Loss sum in the plan's order (so it depends neither on arrival order nor on how shards were grouped).</summary>
    public double LossSum => _blockLosses.Sum();

    public int Correct { get; private set; }

    public int Samples { get; private set; }

    public bool IsComplete => _nextBlock == _plan.Blocks;

    public bool Has(int shard) => shard >= 0 && shard < _received.Length && _received[shard];

    public IEnumerable<int> Missing => Enumerable.Range(0, _received.Length).Where(s => !_received[s]);

    /// <summary>A single shard's result.</summary>
    public ShardVerdict Offer(long step, int shard, int samples, double lossSum, int correct, float[] gradientSum) =>
        Offer(step, shard, 1, samples, lossSum, correct, gradientSum);

    /// <summary>A piece: the summed result of shards [first, first+count).</summary>
    /// <param name="consumed">Called once the gradient has been added (and its array is no longer needed); only for accepted pieces.</param>
    public ShardVerdict Offer(long step, int first, int count, int samples, double lossSum, int correct, float[] gradientSum, Action? consumed = null)
    {
        if (step != Step) return ShardVerdict.WrongStep;
        if (first < 0 || count < 1 || first + count > _received.Length) return ShardVerdict.UnknownShard;
        if (!_plan.IsPiece(first, count)) return ShardVerdict.Malformed;
        for (int s = first; s < first + count; s++)
            if (_received[s]) return ShardVerdict.Duplicate;
        int expected = 0;
        for (int s = first; s < first + count; s++) expected += _expectedSamples[s];
        if (samples != expected || gradientSum.Length != _total.Length) return ShardVerdict.Malformed;
        if (!double.IsFinite(lossSum) || !AllFinite(gradientSum)) return ShardVerdict.NotFinite;
        // Cross-entropy is never negative, and a shard cannot classify more samples than it holds.
        if (lossSum < 0 || correct < 0 || correct > samples) return ShardVerdict.Malformed;
        for (int s = first; s < first + count; s++) _received[s] = true;
        Correct += correct;
        Samples += samples;
        int block = _plan.BlockOf(first);
        _waiting[first] = (count, gradientSum, lossSum, consumed);
        while (_waiting.Remove(_nextInBlock[block], out var next))
        {
            _blockSums[block].Add(next.Gradient);
            next.Consumed?.Invoke();
            _blockLosses[block] += next.Loss;
            _nextInBlock[block] += next.Count;
            SkipEmpty(block);
        }
        CompleteBlocks();
        return ShardVerdict.Accepted;
    }

    /// <summary>Writes the batch's mean gradient into the model (requires <see cref="IsComplete"/>).</summary>
    public void WriteMeanTo(Sequential<float> model)
    {
        if (!IsComplete) throw new InvalidOperationException($"Step {Step} still misses shards {string.Join(", ", Missing)}.");
        _total.WriteMeanTo(model, Samples);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        // x − x is 0 for finite x and NaN for NaN or ±∞; summing those keeps the check one pass.
        float probe = 0;
        foreach (float v in values) probe += v - v;
        return probe == 0;
    }

    private bool BlockDone(int block)
    {
        var (first, count) = _plan.Block(block);
        return _nextInBlock[block] >= first + count;
    }

    // Finished blocks join the total in block order (an empty block adds nothing).
    private void CompleteBlocks()
    {
        while (_nextBlock < _plan.Blocks && BlockDone(_nextBlock))
        {
            var sum = _blockSums[_nextBlock];
            if (!ReferenceEquals(sum, _total) && sum.ShardsAdded > 0) _total.Add(sum.Total);
            _nextBlock++;
        }
    }

    private void SkipEmpty(int block)
    {
        var (first, count) = _plan.Block(block);
        while (_nextInBlock[block] < first + count && _expectedSamples[_nextInBlock[block]] == 0) _nextInBlock[block]++;
    }
}
