using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// Where layers put their parameter gradients, which are sums over a batch's rows. The caller
/// (the training engine) decides how rows are grouped, a layer only says what is summed:
/// <see cref="WholeBatch"/> sums all rows in one chain; <see cref="InGroups"/> sums each group of
/// consecutive rows (a shard) in a chain of its own and adds the group sums in order, so a batch of
/// several shards gets the same bits as its shards computed apart and added in shard order.
/// </summary>
public sealed class GradientSink<T> where T : struct, IFloatingPointIeee754<T>
{
    private readonly int[]? _groups;

    private GradientSink(int[]? groups) => _groups = groups;

    /// <summary>All rows in one sum.</summary>
    public static GradientSink<T> WholeBatch { get; } = new(null);

    /// <summary>Rows in groups: <paramref name="boundaries"/> rise from 0 to the row count.</summary>
    public static GradientSink<T> InGroups(int[] boundaries)
    {
        if (boundaries.Length < 2 || boundaries[0] != 0 || boundaries.Zip(boundaries.Skip(1)).Any(p => p.Second < p.First))
            throw new ArgumentException("Group boundaries must rise from 0 to the row count.", nameof(boundaries));
        return new(boundaries);
    }

    /// <summary>
    /// The same grouping for a layer that makes <paramref name="rowsPerSample"/> rows of every
    /// sample (a convolution's output positions): group boundaries scaled, so a shard's rows stay one group.
    /// </summary>
    public GradientSink<T> RowsPer(int rowsPerSample) =>
        _groups is null || rowsPerSample == 1 ? this : new(_groups.Select(b => b * rowsPerSample).ToArray());

    // dP = Σ_g X_gᵀ·dZ_g over the groups g of rows (one group: Xᵀ·dZ)
    public void RowProducts(Parameter<T> parameter, Matrix<T> x, Matrix<T> dz)
    {
        if (_groups is null)
        {
            x.TransposeThisAndMultiply(dz, parameter.Gradient);
            return;
        }
        if (typeof(T) != typeof(float)) throw new NotSupportedException("Grouped gradients are implemented for float32 training.");
        CheckRows(x.RowCount);
        // In row-major terms of the column-major storage: dPᵀ = dZᵀ·X, the k-loop (over rows) restarted at every group.
        int n = x.RowCount;
        var (dzv, xv, dp) = ((float[])(object)dz.Values(), (float[])(object)x.Values(), (float[])(object)parameter.Gradient.Values());
        if (_groups.Zip(_groups.Skip(1)).All(p => p.Second - p.First <= Gemm.KC))
        {
            Gemm.Multiply(false, true, dz.ColumnCount, x.ColumnCount, n, 1f, dzv, 0, n, xv, 0, n, 0f, dp, 0, x.ColumnCount, _groups);
            return;
        }
        // A group of more than KC rows (a convolution's images × positions) is several k-blocks: the
        // product would chain them onto the previous groups' sum. Each group's sum is formed on its
        // own, as the group computed alone gives it, and the sums are added in order.
        var sum = s_groupSum.Value!;
        if (sum.Length < dp.Length) s_groupSum.Value = sum = new float[dp.Length];
        for (int g = 0; g + 1 < _groups.Length; g++)
        {
            var target = g == 0 ? dp : sum;
            Gemm.Multiply(false, true, dz.ColumnCount, x.ColumnCount, _groups[g + 1] - _groups[g], 1f, dzv, _groups[g], n, xv, _groups[g], n, 0f, target, 0, x.ColumnCount);
            if (g > 0) for (int i = 0; i < dp.Length; i++) dp[i] += sum[i];
        }
    }

    // Scratch for one group's sum, per thread (replicas compute side by side).
    private static readonly ThreadLocal<float[]> s_groupSum = new(() => []);

    // dP = Σ_g 1ᵀ·dZ_g (column sums, group sums added in order)
    public void RowSums(Parameter<T> parameter, Matrix<T> dz)
    {
        var dp = parameter.Gradient.Values();
        if (_groups is not null) CheckRows(dz.RowCount);
        for (int j = 0; j < dz.ColumnCount; j++)
        {
            var column = dz.ColumnSpan(j);
            if (_groups is null)
            {
                dp[j] = ColumnSum(column);
                continue;
            }
            T sum = ColumnSum(column[_groups[0].._groups[1]]);
            for (int s = 1; s + 1 < _groups.Length; s++) sum += ColumnSum(column[_groups[s].._groups[s + 1]]);
            dp[j] = sum;
        }
    }

    private void CheckRows(int rows)
    {
        if (_groups![^1] != rows) throw new ArgumentException($"Row groups end at {_groups[^1]}, the batch has {rows} rows.");
    }

    // Σ_i g_i in a fixed order: lane-wise partial sums over the column, then the lanes in order.
    private static T ColumnSum(ReadOnlySpan<T> column)
    {
        var partial = System.Numerics.Vector<T>.Zero;
        int i = 0;
        for (; i <= column.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
            partial += new System.Numerics.Vector<T>(column[i..]);
        T sum = T.Zero;
        for (int lane = 0; lane < System.Numerics.Vector<T>.Count; lane++) sum += partial[lane];
        for (; i < column.Length; i++) sum += column[i];
        return sum;
    }
}
