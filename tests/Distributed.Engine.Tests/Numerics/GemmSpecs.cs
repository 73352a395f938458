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
        var c0 = Random(m * n, 6);
        float[] Run(int threads, bool simd, bool avx512, bool transA = false, float alpha = 1f, float beta = 0f)
        {
            var (oldThreads, oldSimd, old512) = (Gemm.MaxThreads, Gemm.UseSimd, Gemm.UseAvx512);
            try
            {
                Gemm.MaxThreads = threads;
                Gemm.UseSimd = simd && Gemm.SimdAvailable;
                Gemm.UseAvx512 = avx512;
                var c = (float[])c0.Clone();
                // transA reads the same numbers as the transpose of a k×m matrix: another A access pattern.
                Gemm.Multiply(transA, false, m, n, k, alpha, a, 0, transA ? m : k, b, 0, n, beta, c, 0, n);
                return c;
            }
            finally { (Gemm.MaxThreads, Gemm.UseSimd, Gemm.UseAvx512) = (oldThreads, oldSimd, old512); }
        }

        foreach (var (transA, alpha, beta) in new[] { (false, 1f, 0f), (true, 1f, 0f), (false, 0.5f, 1.5f) })
        {
            var reference = Run(1, simd: false, avx512: false, transA, alpha, beta);
            Assert.Equal(reference, Run(1, simd: true, avx512: false, transA, alpha, beta));
            Assert.Equal(reference, Run(8, simd: true, avx512: false, transA, alpha, beta));
            Assert.Equal(reference, Run(1, simd: true, avx512: true, transA, alpha, beta));
            Assert.Equal(reference, Run(8, simd: true, avx512: true, transA, alpha, beta));
        }
    }

    [Fact]
    public void The_AVX512_kernel_should_be_used_where_the_machine_has_it()
    {
        // On a machine without AVX-512 the flag changes nothing; where it exists it is the default.
        Assert.Equal(Gemm.Avx512Available, Gemm.UseAvx512);
        Assert.Equal(Gemm.Avx512Available ? "AVX-512" : Gemm.SimdAvailable ? "AVX2/FMA" : "scalar", Gemm.KernelName);
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

    // Short segments share one packing and each C tile runs through them in L1; the bits must stay
    // those of one pass over C per segment, on every kernel (scalar, AVX2, AVX-512).
    [Theory]
    [InlineData(false, true, 256, 784, 128, new[] { 0, 32, 64, 96, 128 })]
    [InlineData(false, true, 128, 256, 128, new[] { 0, 32, 64, 96, 128 })]
    [InlineData(true, false, 45, 97, 600, new[] { 0, 10, 250, 251, 500, 600 })]
    public void Segments_grouped_into_one_packing_should_keep_the_bits_of_separate_products(bool ta, bool tb, int m, int n, int k, int[] segments)
    {
        var a = Random(m * k, 8);
        var b = Random(k * n, 9);
        int lda = ta ? m : k, ldb = tb ? k : n;
        var expected = new float[m * n];
        for (int s = 0; s + 1 < segments.Length; s++)
        {
            int k0 = segments[s], kk = segments[s + 1] - k0;
            var part = new float[m * n];
            Gemm.Multiply(ta, tb, m, n, kk, 1f, a, ta ? k0 * m : k0, lda, b, tb ? k0 : k0 * n, ldb, 0f, part, 0, n);
            for (int i = 0; i < part.Length; i++) expected[i] = s == 0 ? part[i] : expected[i] + part[i];
        }
        var (simd, avx512) = (Gemm.UseSimd, Gemm.UseAvx512);
        try
        {
            foreach (var (useSimd, useAvx512) in new[] { (false, false), (true, false), (true, true) })
            {
                (Gemm.UseSimd, Gemm.UseAvx512) = (useSimd && Gemm.SimdAvailable, useAvx512 && Gemm.Avx512Available);
                var fused = new float[m * n];
                Gemm.Multiply(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, fused, 0, n, segments);
                Assert.Equal(expected, fused);
            }
        }
        finally { (Gemm.UseSimd, Gemm.UseAvx512) = (simd, avx512); }
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
