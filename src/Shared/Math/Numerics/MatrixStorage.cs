using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Numerics;

/// <summary>Direct access to MathNet's dense storage: column-major, element (i, j) at j·rows + i.</summary>
public static class MatrixStorage
{
    /// <summary>The dense matrix's own column-major array (not a copy).</summary>
    public static T[] Values<T>(this Matrix<T> m) where T : struct, IEquatable<T>, IFormattable =>
        m.AsColumnMajorArray() ?? throw new ArgumentException("Only dense matrices are supported.", nameof(m));

    /// <summary>Column j as a span (columns are contiguous in column-major storage).</summary>
    public static Span<T> ColumnSpan<T>(this Matrix<T> m, int j) where T : struct, IEquatable<T>, IFormattable =>
        m.Values().AsSpan(j * m.RowCount, m.RowCount);

    /// <summary>Returns <paramref name="cached"/> if it has the shape, else a new dense matrix (keeps the hot path allocation-free).</summary>
    public static Matrix<T> Reuse<T>(ref Matrix<T>? cached, int rows, int columns) where T : struct, IEquatable<T>, IFormattable
    {
        if (cached is null || cached.RowCount != rows || cached.ColumnCount != columns)
            cached = Matrix<T>.Build.Dense(rows, columns);
        return cached;
    }

    /// <summary>Index of the largest element in each row (first one on ties).</summary>
    public static int ArgMaxOfRow<T>(this Matrix<T> m, int row) where T : struct, IFloatingPointIeee754<T>
    {
        var v = m.Values();
        int best = 0;
        for (int j = 1; j < m.ColumnCount; j++)
            if (v[j * m.RowCount + row] > v[best * m.RowCount + row]) best = j;
        return best;
    }
}
