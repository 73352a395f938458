using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Losses;

/// <summary>
/// Cross-entropy on probabilities: L = −(1/N) Σ_ij t_ij log p_ij, with dL/dp = −t / (N·p) and
/// dL/dt = −log(p) / N. Terms with t_ij = 0 contribute nothing (0·log 0 = 0), so a probability
/// that underflowed to 0 where the target is 0 is harmless; for extreme logits use the fused
/// <see cref="SoftmaxCrossEntropy{T}"/>, which never forms p.
/// </summary>
public sealed class CrossEntropy<T>(LossReduction reduction = LossReduction.Mean) : ILoss<T>
    where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _p, _t, _dp, _dt;

    // L = −(1/N) Σ t ⊙ log p
    public T Forward(Matrix<T> input, Matrix<T> target)
    {
        Shapes.RequireSame(input, target, "probabilities", "targets");
        (_p, _t) = (input, target);
        var p = input.Values();
        var t = target.Values();
        T sum = T.Zero;
        for (int i = 0; i < p.Length; i++)
            if (t[i] != T.Zero) sum -= t[i] * T.Log(p[i]);
        return sum * Shapes.Scale<T>(reduction, input.RowCount);
    }

    // dp = −t / (N·p),  dt = −log(p) / N
    public (Matrix<T> InputGradient, Matrix<T> TargetGradient) Backward()
    {
        var (pm, tm) = (_p ?? throw new InvalidOperationException("CrossEntropy: Backward before Forward."), _t!);
        var dp = MatrixStorage.Reuse(ref _dp, pm.RowCount, pm.ColumnCount).Values();
        var dt = MatrixStorage.Reuse(ref _dt, pm.RowCount, pm.ColumnCount).Values();
        var p = pm.Values();
        var t = tm.Values();
        T scale = Shapes.Scale<T>(reduction, pm.RowCount);
        for (int i = 0; i < p.Length; i++)
        {
            dp[i] = t[i] == T.Zero ? T.Zero : -t[i] * scale / p[i];
            dt[i] = -T.Log(p[i]) * scale;
        }
        return (_dp!, _dt!);
    }
}
