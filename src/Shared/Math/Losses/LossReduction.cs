namespace Distributed.Shared.Losses;

/// <summary>How per-sample losses are combined over a batch.</summary>
public enum LossReduction
{
    /// <summary>Mean over the N rows: L = (1/N) Σ_i ℓ_i.</summary>
    Mean,

    /// <summary>Sum over the rows: what a shard reports, so that shard sums add up to the global batch's sum.</summary>
    Sum,
}
