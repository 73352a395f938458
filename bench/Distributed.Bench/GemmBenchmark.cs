using System.Diagnostics;
using Distributed.Shared.Numerics;

namespace Distributed.Bench;

/// <summary>GFLOP/s of <see cref="Gemm"/> at the shapes of one training step of the default MLP.</summary>
public static class GemmBenchmark
{
    /// <summary>A product's shape; <paramref name="Segments"/>, when given, restarts the k-loop at each boundary (a batch's shards).</summary>
    public sealed record Shape(string Name, bool TransA, bool TransB, int M, int N, int K, int[]? Segments = null)
    {
        public double Flops => 2.0 * M * N * K;
    }

    public static readonly Shape[] MlpShapes =
    [
        new("X·W1 (128x784·784x256)", false, false, 128, 256, 784),
        new("Xᵀ·dZ1 (784x128·128x256)", true, false, 784, 256, 128),
        new("dZ2·W2ᵀ (128x128·128x256)", false, true, 128, 256, 128),
        new("1024³", false, false, 1024, 1024, 1024),
        // The same products as MathNet's column-major layout hands them to the kernel (row-major transposes).
        new("fwd1 as called: W1ᵀ·Xᵀ (256x784·784x128)", false, false, 256, 128, 784),
        new("dW1 as called: dZ1ᵀ·X (256x128·128x784)", true, false, 256, 784, 128),
        new("dX2 as called: W2·dZ2ᵀ (256x128·128x128)", false, false, 256, 128, 128),
    ];

    /// <summary>Median GFLOP/s over <paramref name="repeats"/> timed runs of at least ~50 ms each.</summary>
    public static double Measure(Shape s, int threads, int repeats = 5)
    {
        var rng = new Random(1);
        var a = new float[s.M * s.K];
        var b = new float[s.K * s.N];
        var c = new float[s.M * s.N];
        foreach (var x in new[] { a, b }) for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        int old = Gemm.MaxThreads;
        Gemm.MaxThreads = threads;
        try
        {
            void Once() => Gemm.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, 0, s.TransA ? s.M : s.K, b, 0, s.TransB ? s.K : s.N, 0f, c, 0, s.N, s.Segments);
            double flops = s.Flops;
            int inner = Math.Max(1, (int)(5e9 / 60 / flops));
            for (int i = 0; i < inner; i++) Once();
            var results = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < inner; i++) Once();
                results.Add(flops * inner / sw.Elapsed.TotalSeconds / 1e9);
            }
            results.Sort();
            return results[results.Count / 2];
        }
        finally { Gemm.MaxThreads = old; }
    }
}
