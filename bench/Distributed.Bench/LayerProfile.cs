using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>Where a convolutional model's shard goes: each layer's forward and backward, on one thread.</summary>
public static class LayerProfile
{
    public static void Print(ImageSet train, ModelPreset preset, int shardSize = 32, int rounds = 12)
    {
        var model = new TrainingOptions { Architecture = preset.Layers }.Model(784, 10).Build<float>(seed: 1);
        var builder = new BatchBuilder();
        var forward = new double[model.Layers.Count];
        var backward = new double[model.Layers.Count];
        var outputs = new MathNet.Numerics.LinearAlgebra.Matrix<float>[model.Layers.Count];
        using var serial = Gemm.SerialOnThisThread();
        var sw = new Stopwatch();
        for (int round = 0; round < rounds; round++)
        {
            if (round == 2) { Array.Clear(forward); Array.Clear(backward); }
            int[] samples = [.. Enumerable.Range(round * shardSize, shardSize)];
            var (x, _) = builder.Build(train, samples);
            var context = new ForwardContext(1, round, samples);
            for (int i = 0; i < model.Layers.Count; i++)
            {
                sw.Restart();
                x = outputs[i] = model.Layers[i].Forward(x, context);
                forward[i] += sw.Elapsed.TotalMilliseconds;
            }
            var g = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(shardSize, 10, 0.01f);
            for (int i = model.Layers.Count - 1; i >= 0; i--)
            {
                sw.Restart();
                g = model.Layers[i].Backward(g, needInputGradient: i > 0)!;
                backward[i] += sw.Elapsed.TotalMilliseconds;
            }
        }
        int n = rounds - 2;
        Console.WriteLine($"## {preset.Name}: one shard of {shardSize} images on one thread ({Gemm.KernelName}), ms");
        Console.WriteLine("| layer | forward | backward |");
        Console.WriteLine("|---|---|---|");
        var layers = new TrainingOptions { Architecture = preset.Layers }.Model(784, 10).Layers;
        for (int i = 0; i < layers.Count; i++) Console.WriteLine($"| {i} {layers[i]} | {forward[i] / n:F2} | {backward[i] / n:F2} |");
        double total = (forward.Sum() + backward.Sum()) / n;
        Console.WriteLine($"| all | {forward.Sum() / n:F2} | {backward.Sum() / n:F2} |");
        Console.WriteLine($"{total:F1} ms per shard: {shardSize / total * 1000:N0} samples/s on one thread");
        Console.WriteLine();
    }

    /// <summary>A convolution's parts on one thread: im2col, the three products, col2im (the CNN's second conv by default).</summary>
    public static void ConvParts(int images = 32, int channels = 32, int side = 26, int outputs = 64, int rounds = 12)
    {
        var g = new ConvGeometry(new ImageShape(channels, side, side), 3, 1, 0);
        var rng = new Random(1);
        var x = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(images, g.Input.Size, (_, _) => (float)rng.NextDouble());
        var w = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(g.PatchSize, outputs, (_, _) => (float)rng.NextDouble());
        var cols = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(images * g.Positions, g.PatchSize);
        var y = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(cols.RowCount, outputs);
        var dw = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(g.PatchSize, outputs);
        var dcols = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(cols.RowCount, g.PatchSize);
        var dx = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(images, g.Input.Size);
        var scratch = new float[images * g.Input.Size];
        var t = new double[5];
        string[] names = ["im2col", "Y = cols·W", "dW = colsᵀ·dY", "dcols = dY·Wᵀ", "col2im"];
        using var serial = Gemm.SerialOnThisThread();
        var sw = new Stopwatch();
        void Lap(int i) { t[i] += sw.Elapsed.TotalMilliseconds; sw.Restart(); }
        for (int round = 0; round < rounds; round++)
        {
            if (round == 2) Array.Clear(t);
            sw.Restart();
            g.ImageToColumns(x, cols, scratch); Lap(0);
            cols.Multiply(w, y); Lap(1);
            cols.TransposeThisAndMultiply(y, dw); Lap(2);
            y.TransposeAndMultiply(w, dcols); Lap(3);
            g.ColumnsToImage(dcols, dx, scratch); Lap(4);
        }
        double flops = 2.0 * cols.RowCount * g.PatchSize * outputs;
        Console.WriteLine($"## conv {g.Input} → {outputs}, kernel 3, {images} images, one thread, ms (a product is {flops / 1e6:N0} MFLOP)");
        Console.WriteLine("| part | ms | GFLOP/s |");
        Console.WriteLine("|---|---|---|");
        for (int i = 0; i < t.Length; i++)
            Console.WriteLine($"| {names[i]} | {t[i] / (rounds - 2):F2} | {(i is >= 1 and <= 3 ? $"{flops / (t[i] / (rounds - 2)) / 1e6:F1}" : "")} |");
        Console.WriteLine();
    }

    /// <summary>The same three products with the big operand read in place (row-major cols: one row per output position).</summary>
    public static void ConvProductsRowMajor(int images = 32, int positions = 576, int patch = 288, int outputs = 64, int rounds = 12)
    {
        int rows = images * positions;
        var rng = new Random(1);
        float[] Fill(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)rng.NextDouble(); return a; }
        var (cols, w, y, dw, dcols) = (Fill(rows * patch), Fill(patch * outputs), new float[rows * outputs], new float[patch * outputs], new float[rows * patch]);
        var t = new double[3];
        using var serial = Gemm.SerialOnThisThread();
        var sw = new Stopwatch();
        for (int round = 0; round < rounds; round++)
        {
            if (round == 2) Array.Clear(t);
            sw.Restart();
            Gemm.Multiply(false, true, rows, outputs, patch, 1f, cols, 0, patch, w, 0, patch, 0f, y, 0, outputs); t[0] += sw.Elapsed.TotalMilliseconds; sw.Restart();
            Gemm.Multiply(true, false, outputs, patch, rows, 1f, y, 0, outputs, cols, 0, patch, 0f, dw, 0, patch); t[1] += sw.Elapsed.TotalMilliseconds; sw.Restart();
            Gemm.Multiply(false, false, rows, patch, outputs, 1f, y, 0, outputs, w, 0, patch, 0f, dcols, 0, patch); t[2] += sw.Elapsed.TotalMilliseconds;
        }
        double flops = 2.0 * rows * patch * outputs;
        string[] names = ["Y = cols·Wᵀ (m = rows)", "dW = dYᵀ·cols (k = rows)", "dcols = dY·W (m = rows)"];
        for (int i = 0; i < 3; i++) Console.WriteLine($"| {names[i]} | {t[i] / (rounds - 2):F2} | {flops / (t[i] / (rounds - 2)) / 1e6:F1} |");
        Console.WriteLine();
    }
}
