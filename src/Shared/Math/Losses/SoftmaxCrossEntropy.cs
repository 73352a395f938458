using System.Numerics;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Losses;

/// <summary>
/// Softmax and cross-entropy fused on logits z: log softmax = z − lse(z) with the log-sum-exp
/// trick, so any finite logits give a finite loss and gradients.
/// L = −(1/N) Σ t ⊙ log softmax(z);  dL/dz = (softmax(z)·Σ_j t_j − t) / N, which is (softmax − t)/N
/// for targets whose rows sum to 1;  dL/dt = −log softmax(z) / N.
/// </summary>
public sealed class SoftmaxCrossEntropy<T>(LossReduction reduction = LossReduction.Mean) : ILoss<T>
    where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _t, _logSoftmax, _dz, _dt;
    private T[] _lse = [], _sum = [];

    /// <summary>log softmax of the last forward (row i, class j), e.g. for predictions.</summary>
    public Matrix<T> LogSoftmax => _logSoftmax ?? throw new InvalidOperationException("No forward yet.");

    // L = −(1/N) Σ t ⊙ (z − lse(z))
    public T Forward(Matrix<T> input, Matrix<T> target)
    {
        Shapes.RequireSame(input, target, "logits", "targets");
        _t = target;
        int n = input.RowCount;
        if (_lse.Length < n) (_lse, _sum) = (new T[n], new T[n]);
        var lse = _lse.AsSpan(0, n);
        Rows.LogSumExp(input, lse, _sum.AsSpan(0, n));
        var z = input.Values();
        var ls = MatrixStorage.Reuse(ref _logSoftmax, n, input.ColumnCount).Values();
        var t = target.Values();
        T sum = T.Zero;
        for (int j = 0; j < input.ColumnCount; j++)
            for (int i = 0; i < n; i++)
            {
                int k = j * n + i;
                ls[k] = z[k] - lse[i];
                if (t[k] != T.Zero) sum -= t[k] * ls[k];
            }
        return sum * Shapes.Scale<T>(reduction, n);
    }

    /// <summary>
    /// The last forward's loss summed over each segment of rows (boundaries ascending from 0 to the
    /// row count), each in the same order <see cref="Forward"/> sums a matrix of just those rows.
    /// </summary>
    public T[] SegmentSums(int[] segments)
    {
        var ls = LogSoftmax.Values();
        var t = _t!.Values();
        int n = LogSoftmax.RowCount;
        var sums = new T[segments.Length - 1];
        for (int s = 0; s + 1 < segments.Length; s++)
        {
            T sum = T.Zero;
            for (int j = 0; j < LogSoftmax.ColumnCount; j++)
                for (int i = segments[s]; i < segments[s + 1]; i++)
                    if (t[j * n + i] != T.Zero) sum -= t[j * n + i] * ls[j * n + i];
            sums[s] = sum;
        }
        return sums;
    }

    // dz = (softmax·Σt − t) / N,  dt = −log softmax / N
    public (Matrix<T> InputGradient, Matrix<T> TargetGradient) Backward()
    {
        var ls = _logSoftmax ?? throw new InvalidOperationException("SoftmaxCrossEntropy: Backward before Forward.");
        int n = ls.RowCount, c = ls.ColumnCount;
        var dz = MatrixStorage.Reuse(ref _dz, n, c).Values();
        var dt = MatrixStorage.Reuse(ref _dt, n, c).Values();
        var t = _t!.Values();
        var lsv = ls.Values();
        var rowMass = _sum.AsSpan(0, n);
        rowMass.Clear();
        for (int j = 0; j < c; j++)
            for (int i = 0; i < n; i++) rowMass[i] += t[j * n + i];
        T scale = Shapes.Scale<T>(reduction, n);
        for (int j = 0; j < c; j++)
            for (int i = 0; i < n; i++)
            {
                int k = j * n + i;
                T softmax = T.Exp(lsv[k]);
                dz[k] = (softmax * rowMass[i] - t[k]) * scale;
                dt[k] = -lsv[k] * scale;
            }
        return (_dz!, _dt!);
    }
}
