using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>
/// Speed of the exact zero-masked tensor coding (<see cref="ZeroMask"/>) on real tensors of the
/// default MLP: a 64-sample piece's gradient sum and a 128-sample batch's, in GB/s of float32 input,
/// beside the share of bytes it saves; a link is worth masking for when both codings run far faster
/// than it (1 Gbit/s = 0.125 GB/s).
/// </summary>
public static class ZeroMaskBenchmark
{
    public static void Print(ImageSet train)
    {
        Console.WriteLine("## Zero-masked float32 (exact): encode and decode speed, median of 200, one thread");
        Console.WriteLine("| tensor | zeros | bytes sent ÷ raw | count + encode GB/s | decode GB/s |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (int samples in new[] { 64, 128 })
        {
            var gradient = Gradient(train, samples);
            Row($"gradient sum of {samples} samples", gradient);
        }
        Row("initial weights", Weights(train));
        Console.WriteLine();
    }

    private static void Row(string name, float[] values)
    {
        int zeros = ZeroMask.CountZeros(values);
        var mask = new ulong[ZeroMask.MaskWords(values.Length)];
        var kept = new float[values.Length];
        var back = new float[values.Length];
        int n = 0;
        double encode = Median(() => { ZeroMask.CountZeros(values); n = ZeroMask.Encode(values, mask, kept); });
        double decode = Median(() => ZeroMask.Decode(mask, kept.AsSpan(0, n), back));
        double gb = values.Length * 4 / 1e9;
        Console.WriteLine($"| {name} | {100.0 * zeros / values.Length:F1} % | {ZeroMask.EncodedBytes(values.Length, zeros) / (4.0 * values.Length):F3} | {gb / encode:F2} | {gb / decode:F2} |");
    }

    private static double Median(Action act)
    {
        var times = new double[200];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            act();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }

    private static TrainingRun Run(ImageSet train) => new(new TrainingOptions(), new MnistData(train, train, [], ""));

    private static float[] Gradient(ImageSet train, int samples)
    {
        var run = Run(train);
        new ShardTrainer(run.Model, run.Options.Seed).Run(train, Enumerable.Range(0, samples).ToArray(), step: 0);
        var gradient = new float[run.Model.ParameterCount];
        run.Model.CopyGradientsTo(gradient);
        return gradient;
    }

    // A forward and backward pass leaves the values as they were: the initial weights need neither.
    private static float[] Weights(ImageSet train) => Run(train).Model.FlattenValues();
}
