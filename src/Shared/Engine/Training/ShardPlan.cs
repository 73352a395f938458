namespace Distributed.Shared.Training;

/// <summary>
/// How a global batch is cut into virtual shards. The cut depends only on the batch size and the
/// shard count set for the run, never on how many workers are alive: shard s of an n-sample batch
/// is positions [⌊s·n/S⌋, ⌊(s+1)·n/S⌋). Shard gradients are summed in shard order.
/// </summary>
public static class ShardPlan
{
    public static (int Start, int Count) Range(int batchSize, int shards, int shard)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        if ((uint)shard >= (uint)shards) throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {shards}");
        int start = (int)((long)shard * batchSize / shards);
        int end = (int)((long)(shard + 1) * batchSize / shards);
        return (start, end - start);
    }

    /// <summary>Number of batches in an epoch of <paramref name="samples"/> (the last one may be smaller).</summary>
    public static int BatchesPerEpoch(int samples, int batchSize) => (samples + batchSize - 1) / batchSize;

    /// <summary>Positions of batch b within the epoch's sample order.</summary>
    public static (int Start, int Count) Batch(int samples, int batchSize, int batch)
    {
        int start = batch * batchSize;
        return (start, Math.Min(batchSize, samples - start));
    }

    /// <summary>The epoch's sample order: a permutation drawn from the run seed and the epoch number alone.</summary>
    public static int[] EpochOrder(int seed, int epoch, int samples)
    {
        var order = Enumerable.Range(0, samples).ToArray();
        Numerics.SeededRandom.For(seed, "shuffle", epoch).Shuffle(order);
        return order;
    }
}
