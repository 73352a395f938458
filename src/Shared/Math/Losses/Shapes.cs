using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Losses;

internal static class Shapes
{
    public static void RequireSame<T>(Matrix<T> a, Matrix<T> b, string aName, string bName) where T : struct, IFloatingPointIeee754<T>
    {
        if (a.RowCount != b.RowCount || a.ColumnCount != b.ColumnCount)
            throw new ArgumentException($"{aName} are {a.RowCount}×{a.ColumnCount} but {bName} are {b.RowCount}×{b.ColumnCount}.");
    }

    /// <summary>1/N for a mean, 1 for a sum.</summary>
    public static T Scale<T>(LossReduction reduction, int rows) where T : struct, IFloatingPointIeee754<T> =>
        reduction == LossReduction.Mean ? T.One / T.CreateTruncating(rows) : T.One;
}
