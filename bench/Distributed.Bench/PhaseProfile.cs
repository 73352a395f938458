using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;
using Distributed.Shared.Optimizers;
using Distributed.Shared.Training;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Bench;

/// <summary>
/// One single-process step of the default recipe (batch 128 in 4 shards, one segmented pass, Adam),
/// phase by phase on 1 and 2 threads: batch building, each layer's forward and backward, the fused
/// softmax-cross-entropy, the mean, the optimizer. Beside it, the step's eight matrix products alone
/// at the same shapes and thread count, the cost of one hand-off to the second core, and the
/// machine's GEMM peak, so the table says how far the step is from its floor and why.
/// </summary>
public static class PhaseProfile
{
    private const int Batch = 128, Shards = 4, Warm = 200, Timed = 600;

    public static void Print(ImageSet train)
    {
        Console.WriteLine($"## One single-process step by phase (batch {Batch} in {Shards} shards, one pass, {Gemm.KernelName} kernel), mean ms of {Timed} steps");
        var one = Measure(train, 1);
        var two = Measure(train, 2);
        Console.WriteLine("| phase | 1 thread ms | 2 threads ms | MFLOP | GFLOP/s on 1 / 2 threads |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, flops) in one.Phases.Keys.Select(k => (k, one.Flops.GetValueOrDefault(k))))
        {
            string rate = flops == 0 ? "" : $"{flops / one.Phases[name] / 1e6:F0} / {flops / two.Phases[name] / 1e6:F0}";
            Console.WriteLine($"| {name} | {one.Phases[name]:F3} | {two.Phases[name]:F3} | {(flops == 0 ? "" : $"{flops / 1e6:F1}")} | {rate} |");
        }
        double total1 = one.Phases.Values.Sum(), total2 = two.Phases.Values.Sum(), stepFlops = one.Flops.Values.Sum();
        Console.WriteLine($"| **step** | **{total1:F3}** | **{total2:F3}** | {stepFlops / 1e6:F1} | {stepFlops / total1 / 1e6:F0} / {stepFlops / total2 / 1e6:F0} |");
        Console.WriteLine();
        Console.WriteLine("The step's eight matrix products alone (same shapes, same kernel, as the layers call them):");
        Console.WriteLine("| product | 1 thread ms | 2 threads ms | GFLOP/s on 1 / 2 threads |");
        Console.WriteLine("|---|---|---|---|");
        double g1 = 0, g2 = 0;
        foreach (var p in Products)
        {
            double t1 = p.Flops / GemmBenchmark.Measure(p, 1) / 1e6, t2 = p.Flops / GemmBenchmark.Measure(p, 2) / 1e6;
            g1 += t1; g2 += t2;
            Console.WriteLine($"| {p.Name} | {t1:F3} | {t2:F3} | {p.Flops / t1 / 1e6:F0} / {p.Flops / t2 / 1e6:F0} |");
        }
        double peak1 = GemmBenchmark.Measure(new GemmBenchmark.Shape("1024³", false, false, 1024, 1024, 1024), 1);
        double peak2 = GemmBenchmark.Measure(new GemmBenchmark.Shape("1024³", false, false, 1024, 1024, 1024), 2);
        Console.WriteLine($"| **all eight** | **{g1:F3}** | **{g2:F3}** | {stepFlops / g1 / 1e6:F0} / {stepFlops / g2 / 1e6:F0} |");
        Console.WriteLine();
        double handOff = HandOffMicroseconds();
        Console.WriteLine($"Machine GEMM peak (our kernel, 1024³): {peak1:F0} GFLOP/s on 1 thread, {peak2:F0} on 2. " +
            $"One hand-off to the second core and back (Parallel.For over 2 empty items): {handOff:F1} µs.");
        Console.WriteLine($"Floor at the 2-thread peak: {stepFlops / peak2 / 1e6:F3} ms per step ({Batch / (stepFlops / peak2 / 1e6) * 1000:N0} samples/s); " +
            $"the step takes {total2 / (stepFlops / peak2 / 1e6):F1}× that; its products alone take {g2 / (stepFlops / peak2 / 1e6):F1}×.");
        Console.WriteLine();
    }

    private sealed record Profile(Dictionary<string, double> Phases, Dictionary<string, double> Flops);

    private static Profile Measure(ImageSet train, int threads)
    {
        int old = Gemm.MaxThreads;
        Gemm.MaxThreads = threads;
        try { return Run(train); }
        finally { Gemm.MaxThreads = old; }
    }

    private static Profile Run(ImageSet train)
    {
        var model = Mlp.Create<float>(784, [256, 128], 10, seed: 1);
        var loss = new SoftmaxCrossEntropy<float>(LossReduction.Sum);
        var builder = new BatchBuilder();
        var adam = new Adam();
        var order = ShardPlan.EpochOrder(1, 1, train.Count);
        int[] segments = [.. Enumerable.Range(0, Shards + 1).Select(s => s * Batch / Shards)];
        var phases = new Dictionary<string, double>();
        var flops = new Dictionary<string, double>();
        var sw = new Stopwatch();
        bool timing = false;
        void Lap(string name, double f = 0)
        {
            if (timing) phases[name] = phases.GetValueOrDefault(name) + sw.Elapsed.TotalMilliseconds;
            if (f > 0) flops[name] = f;
            sw.Restart();
        }
        var layers = model.Layers;
        for (int step = 0; step < Warm + Timed; step++)
        {
            timing = step >= Warm;
            sw.Restart();
            var (x, t) = builder.Build(train, order.AsSpan(step * Batch % (train.Count - Batch), Batch)); Lap("batch build (pixels/255, one-hot)");
            Matrix<float> h = x;
            for (int l = 0; l < layers.Count; l++)
            {
                h = layers[l].Forward(h);
                Lap(layers[l] is Dense<float> d ? $"forward {l}: dense {d.Inputs}→{d.Outputs} (X·W + b)" : $"forward {l}: relu", layers[l] is Dense<float> dd ? 2.0 * Batch * dd.Inputs * dd.Outputs : 0);
            }
            loss.Forward(h, t);
            loss.SegmentSums(segments);
            int correct = 0;
            for (int i = 0; i < Batch; i++) if (h.ArgMaxOfRow(i) == train.Labels[order[i]]) correct++;
            Lap("softmax-cross-entropy forward, shard losses, argmax");
            Matrix<float>? g = loss.Backward().InputGradient; Lap("softmax-cross-entropy backward");
            for (int l = layers.Count - 1; l >= 0; l--)
            {
                g = layers[l].Backward(g!, needInputGradient: l > 0, GradientSink<float>.InGroups(segments));
                Lap(layers[l] is Dense<float> d ? $"backward {l}: dense (dW, db{(l > 0 ? ", dX" : "")})" : $"backward {l}: relu",
                    layers[l] is Dense<float> dd ? 2.0 * Batch * dd.Inputs * dd.Outputs * (l > 0 ? 2 : 1) : 0);
            }
            GradientAccumulator.DivideInPlace(model, Batch); Lap("mean (÷ batch)");
            adam.Step(model.Parameters, 0.001f); Lap("optimizer (Adam)");
        }
        foreach (var k in phases.Keys) phases[k] /= Timed;
        return new Profile(phases, flops);
    }

    // Row-major as FastLinearAlgebraProvider hands the column-major layers' products to Gemm.
    private static readonly GemmBenchmark.Shape[] Products =
    [
        new GemmBenchmark.Shape("forward 0: W1ᵀ·Xᵀ (256×784·784×128)", false, false, 256, 128, 784),
        new GemmBenchmark.Shape("forward 2: W2ᵀ·H1ᵀ (128×256·256×128)", false, false, 128, 128, 256),
        new GemmBenchmark.Shape("forward 4: W3ᵀ·H2ᵀ (10×128·128×128)", false, false, 10, 128, 128),
        new GemmBenchmark.Shape("backward 4: dW3 = dZ3ᵀ·H2 (10×128·128×128)", false, true, 10, 128, 128, [0, 32, 64, 96, 128]),
        new GemmBenchmark.Shape("backward 4: dX3 = W3·dZ3ᵀ (128×10·10×128)", true, false, 128, 128, 10),
        new GemmBenchmark.Shape("backward 2: dW2 = dZ2ᵀ·H1 (128×128·128×256)", false, true, 128, 256, 128, [0, 32, 64, 96, 128]),
        new GemmBenchmark.Shape("backward 2: dX2 = W2·dZ2ᵀ (256×128·128×128)", true, false, 256, 128, 128),
        new GemmBenchmark.Shape("backward 0: dW1 = dZ1ᵀ·X (256×128·128×784)", false, true, 256, 784, 128, [0, 32, 64, 96, 128]),
    ];

    private static double HandOffMicroseconds()
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = 2 };
        for (int i = 0; i < 2000; i++) Parallel.For(0, 2, options, _ => { });
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 10000; i++) Parallel.For(0, 2, options, _ => { });
        return sw.Elapsed.TotalMilliseconds * 1000 / 10000;
    }
}
