using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>Row-wise reductions on column-major batches, looping column by column so the inner loop is contiguous.</summary>
internal static class Rows
{
    /// <summary>m_i = max_j x_ij.</summary>
    public static void Max<T>(Matrix<T> x, Span<T> max) where T : struct, IFloatingPointIeee754<T>
    {
        int n = x.RowCount;
        var v = x.Values();
        v.AsSpan(0, n).CopyTo(max);
        for (int j = 1; j < x.ColumnCount; j++)
            for (int i = 0; i < n; i++)
                if (v[j * n + i] > max[i]) max[i] = v[j * n + i];
    }

    /// <summary>lse_i = m_i + log Σ_j exp(x_ij − m_i), finite for any finite logits.</summary>
    public static void LogSumExp<T>(Matrix<T> x, Span<T> lse, Span<T> sum) where T : struct, IFloatingPointIeee754<T>
    {
        int n = x.RowCount;
        var v = x.Values();
        Max(x, lse);
        sum.Clear();
        for (int j = 0; j < x.ColumnCount; j++)
            for (int i = 0; i < n; i++) sum[i] += T.Exp(v[j * n + i] - lse[i]);
        for (int i = 0; i < n; i++) lse[i] += T.Log(sum[i]);
    }

    /// <summary>s_ij = exp(x_ij − m_i) / Σ_k exp(x_ik − m_i).</summary>
    public static void Softmax<T>(Matrix<T> x, Matrix<T> s, Span<T> scratch) where T : struct, IFloatingPointIeee754<T>
    {
        int n = x.RowCount;
        var v = x.Values();
        var sv = s.Values();
        Span<T> max = scratch;
        Max(x, max);
        for (int j = 0; j < x.ColumnCount; j++)
            for (int i = 0; i < n; i++) sv[j * n + i] = T.Exp(v[j * n + i] - max[i]);
        // Reuse the max buffer for the reciprocal of each row's sum.
        var inv = max;
        inv.Clear();
        for (int j = 0; j < x.ColumnCount; j++)
            for (int i = 0; i < n; i++) inv[i] += sv[j * n + i];
        for (int i = 0; i < n; i++) inv[i] = T.One / inv[i];
        for (int j = 0; j < x.ColumnCount; j++)
            for (int i = 0; i < n; i++) sv[j * n + i] *= inv[i];
    }
}
