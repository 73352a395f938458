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

    /// <summary>
    /// dst[j·rows + i] = src[i·cols + j]: a row-major rows×cols block written transposed, in 16×16
    /// tiles so that both sides stay in cache (a plain double loop strides one side by a whole row).
    /// </summary>
    public static void Transpose<T>(ReadOnlySpan<T> src, int rows, int cols, Span<T> dst)
    {
        const int Tile = 16;
        if (src.Length < rows * cols || dst.Length < rows * cols) throw new ArgumentException($"a {rows}×{cols} transpose needs {rows * cols} values on each side.");
        for (int i0 = 0; i0 < rows; i0 += Tile)
            for (int j0 = 0; j0 < cols; j0 += Tile)
            {
                int i1 = Math.Min(i0 + Tile, rows), j1 = Math.Min(j0 + Tile, cols);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) dst[j * rows + i] = src[i * cols + j];
            }
    }
}
