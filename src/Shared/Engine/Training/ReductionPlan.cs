namespace Distributed.Shared.Training;

/// <summary>
/// The order in which a batch's shard gradient sums are added, fixed by the run: the S shards form
/// B blocks of consecutive shards; each block's shards are added in order, then the block sums in
/// order: g = (blk₀ + blk₁ + …) with blkᵦ = (sₐ + sₐ₊₁ + …), left to right. With one block this is
/// plain shard order. A worker that holds the first k shards of a block computes them in one pass
/// and sends their sum as one piece: the same bits the coordinator would get adding them one by one,
/// since both start from the first shard. A piece that does not start a block must be a single shard.
/// </summary>
public sealed class ReductionPlan
{
    public ReductionPlan(int shards, int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        if (blocks < 1 || blocks > shards) throw new ArgumentOutOfRangeException(nameof(blocks), $"{blocks} blocks for {shards} shards");
        (Shards, Blocks) = (shards, blocks);
    }

    public int Shards { get; }

    public int Blocks { get; }

    /// <summary>Block b holds shards [⌊b·S/B⌋, ⌊(b+1)·S/B⌋).</summary>
    public (int First, int Count) Block(int block)
    {
        int first = (int)((long)block * Shards / Blocks);
        return (first, (int)((long)(block + 1) * Shards / Blocks) - first);
    }

    public int BlockOf(int shard)
    {
        if ((uint)shard >= (uint)Shards) throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {Shards}");
        int b = (int)((long)shard * Blocks / Shards);
        // Integer division can land one block low or high of the floor-based boundaries; settle it.
        while (Block(b).First > shard) b--;
        while (Block(b).First + Block(b).Count <= shard) b++;
        return b;
    }

    public bool StartsBlock(int shard) => Block(BlockOf(shard)).First == shard;

    /// <summary>True when shards [first, first+count) may travel as one summed piece.</summary>
    public bool IsPiece(int first, int count) =>
        count == 1 ? first >= 0 && first < Shards
        : count > 1 && first >= 0 && first + count <= Shards && StartsBlock(first) && BlockOf(first + count - 1) == BlockOf(first);

    /// <summary>Loss sums added in the plan's order: within each block, then the block sums.</summary>
    public double SumLosses(IReadOnlyList<double> perShard)
    {
        double total = 0;
        for (int b = 0; b < Blocks; b++)
        {
            var (first, count) = Block(b);
            double block = 0;
            for (int s = first; s < first + count; s++) block += perShard[s];
            total += block;
        }
        return total;
    }

    /// <summary>
    /// Cuts a worker's shards into the fewest pieces: a run of consecutive shards that starts a block
    /// becomes one piece (up to the block's end); any other shard travels alone.
    /// </summary>
    public IReadOnlyList<(int First, int Count)> Pieces(IEnumerable<int> shards)
    {
        var sorted = shards.Distinct().Order().ToArray();
        var pieces = new List<(int, int)>();
        for (int i = 0; i < sorted.Length;)
        {
            int first = sorted[i], count = 1;
            if (StartsBlock(first))
            {
                var (blockFirst, blockCount) = Block(BlockOf(first));
                while (i + count < sorted.Length && sorted[i + count] == first + count && first + count < blockFirst + blockCount) count++;
            }
            pieces.Add((first, count));
            i += count;
        }
        return pieces;
    }
}
