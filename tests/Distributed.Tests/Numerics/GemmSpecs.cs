using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Providers.LinearAlgebra;

namespace Distributed.Tests.Numerics;

public class GemmSpecs
{
    // Reference: C = alpha·op(A)·op(B) + beta·C in double, element by element.
    private static double[] Reference(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, float[] b, float beta, float[] c)
    {
        var result = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                result[i * n + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * n + j]);
            }
        return result;
    }

    private static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(false, false, 1, 1, 1)]
    [InlineData(false, false, 7, 17, 5)]
    [InlineData(true, false, 13, 33, 300)]
    [InlineData(false, true, 128, 256, 784)]
    [InlineData(true, true, 97, 45, 513)]
    [InlineData(true, false, 784, 256, 128)]
    [InlineData(false, false, 200, 600, 30)]
    public void Product_should_match_a_double_precision_reference(bool ta, bool tb, int m, int n, int k)
    {
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        var c = Random(m * n, 3);
        var expected = Reference(ta, tb, m, n, k, 0.5f, a, b, 2f, c);

        Gemm.Multiply(ta, tb, m, n, k, 0.5f, a, b, 2f, c);

        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5 * Math.Sqrt(k) + 1e-5, $"element {i}: {c[i]} vs {expected[i]}");
    }

    [Fact]
    public void Beta_zero_should_ignore_garbage_in_C()
    {
        var a = Random(6 * 4, 1);
        var b = Random(4 * 16, 2);
        var c = Enumerable.Repeat(float.NaN, 6 * 16).ToArray();
        Gemm.Multiply(false, false, 6, 16, 4, 1f, a, b, 0f, c);
        Assert.All(c, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData(128, 256, 784)]
    [InlineData(784, 256, 128)]
    [InlineData(37, 70, 600)]
    public void Result_bits_should_not_depend_on_threads_or_on_the_simd_path(int m, int n, int k)
    {
        var a = Random(m * k, 4);
        var b = Random(k * n, 5);
        float[] Run(int threads, bool simd)
        {
            var (oldThreads, oldSimd) = (Gemm.MaxThreads, Gemm.UseSimd);
            try
            {
                Gemm.MaxThreads = threads;
                Gemm.UseSimd = simd && Gemm.SimdAvailable;
                var c = new float[m * n];
                Gemm.Multiply(false, false, m, n, k, 1f, a, b, 0f, c);
                return c;
            }
            finally { (Gemm.MaxThreads, Gemm.UseSimd) = (oldThreads, oldSimd); }
        }

        var serial = Run(1, simd: true);
        Assert.Equal(serial, Run(8, simd: true));
        Assert.Equal(serial, Run(1, simd: false));
    }

    [Fact]
    public void A_k_segmented_product_should_equal_the_segments_products_added_in_order()
    {
        int m = 37, n = 70, k = 300;
        var a = Random(m * k, 6);
        var b = Random(k * n, 7);
        int[] segments = [0, 100, 100, 256, 300];
        var fused = new float[m * n];
        Gemm.Multiply(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, fused, 0, n, segments);

        var expected = new float[m * n];
        for (int s = 0; s + 1 < segments.Length; s++)
        {
            int k0 = segments[s], kk = segments[s + 1] - k0;
            if (kk == 0) continue;
            var part = new float[m * n];
            Gemm.Multiply(false, false, m, n, kk, 1f, a, k0, k, b, k0 * n, n, 0f, part, 0, n);
            for (int i = 0; i < part.Length; i++) expected[i] = s == 0 ? part[i] : expected[i] + part[i];
        }
        Assert.Equal(expected, fused);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, fused, 0, n, [0, 200, 100, 300]));
    }

    [Fact]
    public void MathNet_float_products_should_go_through_the_fast_kernel()
    {
        FastLinearAlgebraProvider.Install();
        Assert.IsType<FastLinearAlgebraProvider>(LinearAlgebraControl.Provider, exactMatch: false);
        var x = Matrix<float>.Build.Dense(5, 7, (i, j) => i + 0.5f * j);
        var w = Matrix<float>.Build.Dense(7, 3, (i, j) => i - j);
        long before = FastLinearAlgebraProvider.FloatProducts;

        var product = x * w;
        var tThis = x.TransposeThisAndMultiply(x);
        var tOther = x.TransposeAndMultiply(x);

        Assert.True(FastLinearAlgebraProvider.FloatProducts - before >= 3);
        var xd = x.Map(v => (double)v);
        var wd = w.Map(v => (double)v);
        AssertClose(xd * wd, product);
        AssertClose(xd.TransposeThisAndMultiply(xd), tThis);
        AssertClose(xd.TransposeAndMultiply(xd), tOther);
    }

    [Fact]
    public void Other_MathNet_operations_should_still_work_through_the_managed_provider()
    {
        var m = Matrix<float>.Build.DenseOfArray(new float[,] { { 4, 1 }, { 2, 3 } });
        var inverse = m.Inverse();
        var identity = m * inverse;
        Assert.Equal(1f, identity[0, 0], 5);
        Assert.Equal(0f, identity[0, 1], 5);
        Assert.Throws<ArgumentException>(() => m.Multiply(Matrix<float>.Build.Dense(3, 2)));
    }

    private static void AssertClose(Matrix<double> expected, Matrix<float> actual)
    {
        Assert.Equal(expected.RowCount, actual.RowCount);
        Assert.Equal(expected.ColumnCount, actual.ColumnCount);
        for (int i = 0; i < expected.RowCount; i++)
            for (int j = 0; j < expected.ColumnCount; j++)
                Assert.Equal(expected[i, j], actual[i, j], 3);
    }
}
