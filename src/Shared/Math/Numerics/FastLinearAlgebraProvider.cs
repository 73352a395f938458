using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using MathNet.Numerics.Providers.LinearAlgebra;

namespace Distributed.Shared.Numerics;

/// <summary>
/// MathNet's linear-algebra provider with float products routed to <see cref="Gemm"/>; every other
/// operation goes to MathNet's managed provider unchanged.
/// </summary>
/// <remarks>
/// MathNet 5's native providers do not load on Linux and its managed one multiplies floats at 1–4
/// GFLOP/s. <see cref="ManagedLinearAlgebraProvider"/> is sealed and the interface has ~120 members
/// (four element types), so a <see cref="DispatchProxy"/> decorates it: two float members are
/// intercepted, the rest are forwarded by reflection (off the hot path).
/// MathNet stores matrices column-major; a column-major m×n matrix is the row-major n×m matrix of
/// its transpose, so C = op(A)·op(B) is computed as the row-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
/// </remarks>
public class FastLinearAlgebraProvider : DispatchProxy
{
    private static readonly MethodInfo MultiplyWithUpdate =
        typeof(ILinearAlgebraProvider<float>).GetMethod(nameof(ILinearAlgebraProvider<float>.MatrixMultiplyWithUpdate))!;
    private static readonly MethodInfo Multiply =
        typeof(ILinearAlgebraProvider<float>).GetMethod(nameof(ILinearAlgebraProvider<float>.MatrixMultiply))!;

    private readonly ILinearAlgebraProvider _managed = new ManagedLinearAlgebraProvider();

    /// <summary>Counts float products served by the fast kernel (lets tests prove the routing).</summary>
    public static long FloatProducts => Interlocked.Read(ref s_floatProducts);
    private static long s_floatProducts;

    /// <summary>Installs the provider for the whole process (idempotent).</summary>
    public static void Install()
    {
        if (LinearAlgebraControl.Provider is FastLinearAlgebraProvider) return;
        LinearAlgebraControl.Provider = Create<ILinearAlgebraProvider, FastLinearAlgebraProvider>();
    }

    // Any use of this library's layers loads this module first, so no caller can forget the install
    // and silently train on the slow provider.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void InstallOnLoad() => Install();
#pragma warning restore CA2255

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod == MultiplyWithUpdate)
        {
            var x = args!;
            ColumnMajorProduct((Transpose)x[0]!, (Transpose)x[1]!, (float)x[2]!, (float[])x[3]!, (int)x[4]!, (int)x[5]!,
                (float[])x[6]!, (int)x[7]!, (int)x[8]!, (float)x[9]!, (float[])x[10]!);
            return null;
        }
        if (targetMethod == Multiply)
        {
            var x = args!;
            ColumnMajorProduct(Transpose.DontTranspose, Transpose.DontTranspose, 1f, (float[])x[0]!, (int)x[1]!, (int)x[2]!,
                (float[])x[3]!, (int)x[4]!, (int)x[5]!, 0f, (float[])x[6]!);
            return null;
        }
        try
        {
            return targetMethod.Invoke(_managed, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    // Column-major C(m×n) = alpha·op(A)·op(B) + beta·C, computed as row-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
    private static void ColumnMajorProduct(Transpose transA, Transpose transB, float alpha, float[] a, int rowsA, int columnsA,
        float[] b, int rowsB, int columnsB, float beta, float[] c)
    {
        bool ta = transA != Transpose.DontTranspose;
        bool tb = transB != Transpose.DontTranspose;
        int m = ta ? columnsA : rowsA;
        int k = ta ? rowsA : columnsA;
        int kb = tb ? columnsB : rowsB;
        int n = tb ? rowsB : columnsB;
        if (k != kb) throw new ArgumentException($"Matrix dimensions do not agree: op(A) is {m}×{k}, op(B) is {kb}×{n}.");
        if (c.Length < m * n) throw new ArgumentException($"Result has {c.Length} elements, needs {m * n}.");
        Gemm.Multiply(tb, ta, n, m, k, alpha, b, 0, rowsB, a, 0, rowsA, beta, c, 0, m);
        Interlocked.Increment(ref s_floatProducts);
    }
}
