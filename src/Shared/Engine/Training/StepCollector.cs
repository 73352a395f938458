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
/// The one implementation of the run's reduction order. Collects one step's gradient pieces (a
/// shard's gradient sum, or the sum of shards that start a block), in whatever order they arrive,
/// and adds them in the order the run's <see cref="ReductionPlan"/> fixes: within each block in
/// shard order, then the blocks in order. A piece is added as soon as everything before it in its
/// block has been, so at most the out-of-order ones are held. The cluster's coordinator offers the
/// pieces workers send; the single process (<see cref="ShardedStep"/>) offers the pieces it computes,
/// straight from its model's gradients. Pure: callers act on the verdicts.
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
    /// <summary>The model whose gradients hold the whole step's sum (a single piece computed in place): nothing was copied.</summary>
    private Sequential<float>? _inModel;

    /// <param name="step">The step these results belong to.</param>
    /// <param name="expectedSamples">Samples assigned to each shard (0 for an empty shard, which needs no result).</param>
    /// <param name="parameterCount">Length of each gradient.</param>
    /// <param name="plan">The run's reduction order (null: one block, plain shard order).</param>
    public StepCollector(long step, IReadOnlyList<int> expectedSamples, int parameterCount, ReductionPlan? plan = null)
    {
        _plan = plan ?? new ReductionPlan(expectedSamples.Count, 1);
        if (_plan.Shards != expectedSamples.Count) throw new ArgumentException($"The plan has {_plan.Shards} shards, the step {expectedSamples.Count}.");
        _expectedSamples = new int[_plan.Shards];
        _received = new bool[_plan.Shards];
        _total = new GradientAccumulator(parameterCount);
        // With one block the block's sum is the total; with more, each block sums apart first.
        _blockSums = Enumerable.Range(0, _plan.Blocks).Select(_ => _plan.Blocks == 1 ? _total : new GradientAccumulator(parameterCount)).ToArray();
        _blockLosses = new double[_plan.Blocks];
        _nextInBlock = new int[_plan.Blocks];
        Begin(step, expectedSamples);
    }

    /// <summary>Starts collecting another step, reusing the buffers (the single process does this every step).</summary>
    public void Begin(long step, IReadOnlyList<int> expectedSamples)
    {
        if (expectedSamples.Count != _plan.Shards) throw new ArgumentException($"The plan has {_plan.Shards} shards, the step {expectedSamples.Count}.");
        Step = step;
        (Correct, Samples, _nextBlock, _inModel) = (0, 0, 0, null);
        _waiting.Clear();
        for (int s = 0; s < _plan.Shards; s++)
        {
            _expectedSamples[s] = expectedSamples[s];
            _received[s] = expectedSamples[s] == 0;
        }
        _total.Reset();
        for (int b = 0; b < _plan.Blocks; b++)
        {
            _blockSums[b].Reset();
            _blockLosses[b] = 0;
            _nextInBlock[b] = _plan.Block(b).First;
            SkipEmpty(b);
        }
        CompleteBlocks();
    }

    public long Step { get; private set; }

    /// <summary>The reduction order it adds in.</summary>
    public ReductionPlan Plan => _plan;

    /// <summary>Length of each gradient it adds.</summary>
    public int Length => _total.Length;

    /// <summary>Loss sum in the plan's order (so it depends neither on arrival order nor on how shards were grouped).</summary>
    public double LossSum
    {
        get
        {
            double total = 0;
            foreach (double block in _blockLosses) total += block;
            return total;
        }
    }

    public int Correct { get; private set; }

    public int Samples { get; private set; }

    public bool IsComplete => _nextBlock == _plan.Blocks;

    public bool Has(int shard) => shard >= 0 && shard < _received.Length && _received[shard];

    public IEnumerable<int> Missing => Enumerable.Range(0, _received.Length).Where(s => !_received[s]);

    /// <summary>A single shard's result.</summary>
    public ShardVerdict Offer(long step, int shard, int samples, double lossSum, int correct, float[] gradientSum) =>
        Offer(step, shard, 1, samples, lossSum, correct, gradientSum);

    /// <summary>A piece: the summed result of shards [first, first+count) (empty shards among them add nothing).</summary>
    /// <param name="consumed">Called once the gradient has been added (and its array is no longer needed); only for accepted pieces.</param>
    public ShardVerdict Offer(long step, int first, int count, int samples, double lossSum, int correct, float[] gradientSum, Action? consumed = null)
    {
        var verdict = Check(step, first, count, samples, gradientSum.Length);
        if (verdict != ShardVerdict.Accepted) return verdict;
        if (!double.IsFinite(lossSum) || !AllFinite(gradientSum)) return ShardVerdict.NotFinite;
        // Cross-entropy is never negative, and a shard cannot classify more samples than it holds.
        if (lossSum < 0 || correct < 0 || correct > samples) return ShardVerdict.Malformed;
        int block = Accept(ref first, ref count, correct, samples);
        _waiting[first] = (count, gradientSum, lossSum, consumed);
        while (_waiting.Remove(_nextInBlock[block], out var next)) Consume(block, next.Count, next.Loss, a => a.Add(next.Gradient), next.Consumed);
        CompleteBlocks();
        return ShardVerdict.Accepted;
    }

    /// <summary>
    /// A piece this process computed, its gradient sum in <paramref name="model"/>'s gradients; it must
    /// be next in its block's order (a local caller computes in order). A single piece holding the
    /// whole step is left where it is: <see cref="WriteMeanTo"/> divides it in place. Its own
    /// computation is trusted: a non-finite loss passes, for the run to stop on it as diverged.
    /// </summary>
    public void Offer(long step, int first, int count, int samples, double lossSum, int correct, Sequential<float> model)
    {
        var verdict = Check(step, first, count, samples, model.ParameterCount);
        if (verdict != ShardVerdict.Accepted) throw new InvalidOperationException($"A local piece of shards {first}+{count} was refused: {verdict}.");
        int block = Accept(ref first, ref count, correct, samples);
        if (_nextInBlock[block] != first) throw new InvalidOperationException($"A local piece must come in order: shard {first} before {_nextInBlock[block]}.");
        if (_plan.Blocks == 1 && _total.ShardsAdded == 0 && EndsBlock(block, first + count))
        {
            _inModel = model;
            Consume(block, count, lossSum, _ => { }, null);
        }
        else Consume(block, count, lossSum, a => a.Add(model), null);
        CompleteBlocks();
    }

    /// <summary>The step's gradient sum (requires <see cref="IsComplete"/>, pieces offered as arrays): what a slice owner sends on.</summary>
    public ReadOnlySpan<float> Sum => IsComplete && _inModel is null && _total.ShardsAdded > 0 ? _total.Total
        : throw new InvalidOperationException($"Step {Step}'s sum is not complete, or is in a model's gradients.");

    /// <summary>Writes the batch's mean gradient into the model (requires <see cref="IsComplete"/>).</summary>
    public void WriteMeanTo(Sequential<float> model)
    {
        if (!IsComplete) throw new InvalidOperationException($"Step {Step} still misses shards {string.Join(", ", Missing)}.");
        if (ReferenceEquals(_inModel, model)) GradientAccumulator.DivideInPlace(model, Samples);
        else if (_inModel is not null) throw new InvalidOperationException("The step's sum is in another model's gradients.");
        else _total.WriteMeanTo(model, Samples);
    }

    /// <summary>Whether a piece fits the step: its step, shards, sample count and gradient length.</summary>
    private ShardVerdict Check(long step, int first, int count, int samples, int gradientLength)
    {
        if (step != Step) return ShardVerdict.WrongStep;
        if (first < 0 || count < 1 || first + count > _received.Length) return ShardVerdict.UnknownShard;
        if (!_plan.IsPiece(first, count)) return ShardVerdict.Malformed;
        int expected = 0;
        for (int s = first; s < first + count; s++)
        {
            if (_received[s] && _expectedSamples[s] > 0) return ShardVerdict.Duplicate;
            expected += _expectedSamples[s];
        }
        return expected == 0 || samples != expected || gradientLength != _total.Length ? ShardVerdict.Malformed : ShardVerdict.Accepted;
    }

    /// <summary>Marks a checked piece received and trims the empty shards it starts with (they were skipped already); returns its block.</summary>
    private int Accept(ref int first, ref int count, int correct, int samples)
    {
        for (int s = first; s < first + count; s++) _received[s] = true;
        Correct += correct;
        Samples += samples;
        while (_expectedSamples[first] == 0) (first, count) = (first + 1, count - 1);
        return _plan.BlockOf(first);
    }

    /// <summary>
    /// Adds the piece that is next in its block. A piece that makes up the whole of the next block to
    /// complete goes straight into the total: the same bits as copying it into the block's sum and
    /// adding that, one copy fewer.
    /// </summary>
    private void Consume(int block, int count, double loss, Action<GradientAccumulator> add, Action? consumed)
    {
        var sum = _blockSums[block];
        bool whole = block == _nextBlock && sum.ShardsAdded == 0 && EndsBlock(block, _nextInBlock[block] + count);
        add(whole ? _total : sum);
        consumed?.Invoke();
        _blockLosses[block] += loss;
        _nextInBlock[block] += count;
        SkipEmpty(block);
    }

    /// <summary>True when nothing but empty shards lies between <paramref name="end"/> and the block's end.</summary>
    private bool EndsBlock(int block, int end)
    {
        var (first, count) = _plan.Block(block);
        while (end < first + count && _expectedSamples[end] == 0) end++;
        return end >= first + count;
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

    // Finished blocks join the total in block order (an empty block, or one added straight to the total, adds nothing here).
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
