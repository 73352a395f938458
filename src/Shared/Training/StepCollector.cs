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

    /// <summary>Sample count or gradient length is not what was assigned: dropped.</summary>
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
/// Collects one step's shard gradient sums, in whatever order they arrive, and adds them in shard
/// order: shard s is added as soon as shards 0..s−1 have been, so at most the out-of-order ones are
/// held. Pure: the coordinator actor only forwards results and acts on the verdicts.
/// </summary>
public sealed class StepCollector
{
    private readonly GradientAccumulator _accumulator;
    private readonly int[] _expectedSamples;
    private readonly bool[] _received;
    private readonly double[] _losses;
    private readonly SortedDictionary<int, float[]> _waiting = [];
    private int _nextToAdd;

    /// <param name="step">The step these results belong to.</param>
    /// <param name="expectedSamples">Samples assigned to each shard (0 for an empty shard, which needs no result).</param>
    /// <param name="parameterCount">Length of each gradient.</param>
    public StepCollector(long step, IReadOnlyList<int> expectedSamples, int parameterCount)
    {
        Step = step;
        _expectedSamples = expectedSamples.ToArray();
        _received = _expectedSamples.Select(n => n == 0).ToArray();
        _losses = new double[_expectedSamples.Length];
        _accumulator = new GradientAccumulator(parameterCount);
        SkipEmpty();
    }

    public long Step { get; }

    /// <summary>Loss sum of the shards received, added in shard order (so it does not depend on arrival order).</summary>
    public double LossSum => _losses.Sum();

    public int Correct { get; private set; }

    public int Samples { get; private set; }

    public bool IsComplete => _nextToAdd == _expectedSamples.Length;

    public bool Has(int shard) => shard >= 0 && shard < _received.Length && _received[shard];

    public IEnumerable<int> Missing => Enumerable.Range(0, _received.Length).Where(s => !_received[s]);

    public ShardVerdict Offer(long step, int shard, int samples, double lossSum, int correct, float[] gradientSum)
    {
        if (step != Step) return ShardVerdict.WrongStep;
        if (shard < 0 || shard >= _received.Length) return ShardVerdict.UnknownShard;
        if (_received[shard]) return ShardVerdict.Duplicate;
        if (samples != _expectedSamples[shard] || gradientSum.Length != _accumulator.Length) return ShardVerdict.Malformed;
        if (!double.IsFinite(lossSum) || !AllFinite(gradientSum)) return ShardVerdict.NotFinite;
        _received[shard] = true;
        _losses[shard] = lossSum;
        Correct += correct;
        Samples += samples;
        _waiting[shard] = gradientSum;
        while (_waiting.Remove(_nextToAdd, out var next))
        {
            _accumulator.Add(next);
            _nextToAdd++;
            SkipEmpty();
        }
        return ShardVerdict.Accepted;
    }

    /// <summary>Writes the batch's mean gradient into the model (requires <see cref="IsComplete"/>).</summary>
    public void WriteMeanTo(Sequential<float> model)
    {
        if (!IsComplete) throw new InvalidOperationException($"Step {Step} still misses shards {string.Join(", ", Missing)}.");
        _accumulator.WriteMeanTo(model, Samples);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        // x − x is 0 for finite x and NaN for NaN or ±∞; summing those keeps the check one pass.
        float probe = 0;
        foreach (float v in values) probe += v - v;
        return probe == 0;
    }

    private void SkipEmpty()
    {
        while (_nextToAdd < _expectedSamples.Length && _expectedSamples[_nextToAdd] == 0) _nextToAdd++;
    }
}
