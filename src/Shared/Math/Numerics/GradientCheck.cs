namespace Distributed.Shared.Numerics;

/// <summary>
/// Central-difference gradient checking in double precision, with the fourth-order five-point stencil
/// ∂f/∂x_i ≈ (−f(x + 2h·e_i) + 8f(x + h·e_i) − 8f(x − h·e_i) + f(x − 2h·e_i)) / 12h,
/// compared with an analytic gradient. The two-point stencil's O(h²) truncation error alone is
/// ~1e-5 relative on gradient entries of 1e-5 (small softmax outputs), too coarse to prove 1e-6.
/// </summary>
public static class GradientCheck
{
    public const double DefaultStep = 1e-4;

    /// <summary>
    /// Entries smaller than this are compared absolutely (error ≤ 1e-6 · Floor = 1e-10): the stencil's
    /// rounding noise is ~eps·|f|/h ≈ 1e-11, so a relative error of an entry that is itself noise-sized
    /// says nothing. The entries checked here are 1e-3 to 1 in size.
    /// </summary>
    public const double Floor = 1e-4;

    /// <summary>Numeric gradient of f with respect to x (x is perturbed in place and restored).</summary>
    public static double[] Numeric(Func<double> f, double[] x, double h = DefaultStep)
    {
        var grad = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double saved = x[i];
            double At(double offset)
            {
                x[i] = saved + offset;
                return f();
            }
            grad[i] = (-At(2 * h) + 8 * At(h) - 8 * At(-h) + At(-2 * h)) / (12 * h);
            x[i] = saved;
        }
        return grad;
    }

    /// <summary>max_i |a_i − b_i| / max(|a_i|, |b_i|, <see cref="Floor"/>).</summary>
    public static double MaxRelativeError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Gradients differ in length: {a.Length} vs {b.Length}.");
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double scale = Math.Max(Math.Max(Math.Abs(a[i]), Math.Abs(b[i])), Floor);
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]) / scale);
        }
        return worst;
    }

    /// <summary>max_i |a_i − b_i|.</summary>
    public static double MaxAbsoluteDifference(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }
}
