using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Optimizers;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>Where one training step's time goes (batch build, forward, loss, backward, reduce, optimizer).</summary>
public static class StepProfile
{
    public static void Run(ImageSet train, int batchSize, int shards, int steps = 300)
    {
        var model = Mlp.Create<float>(784, [256, 128], 10, seed: 1);
        var loss = new SoftmaxCrossEntropy<float>(LossReduction.Sum);
        var builder = new BatchBuilder();
        var acc = new GradientAccumulator(model.ParameterCount);
        var adam = new Adam();
        var order = ShardPlan.EpochOrder(1, 1, train.Count);
        var t = new double[6];
        string[] names = ["batch build", "forward", "loss fwd+bwd", "backward", "accumulate+mean", "optimizer"];
        var sw = new Stopwatch();
        void Lap(int i) { t[i] += sw.Elapsed.TotalMilliseconds; sw.Restart(); }
        for (int step = 0; step < steps; step++)
        {
            if (step == 50) Array.Clear(t);
            acc.Reset();
            sw.Restart();
            for (int s = 0; s < shards; s++)
            {
                var (start, count) = ShardPlan.Range(batchSize, shards, s);
                var (x, y) = builder.Build(train, order.AsSpan((step * batchSize + start) % (train.Count - batchSize), count)); Lap(0);
                var logits = model.Forward(x); Lap(1);
                loss.Forward(logits, y); var g = loss.Backward().InputGradient; Lap(2);
                model.Backward(g); Lap(3);
                acc.Add(model); Lap(4);
            }
            acc.WriteMeanTo(model, batchSize); Lap(4);
            adam.Step(model.Parameters, 0.001f); Lap(5);
        }
        double total = t.Sum() / (steps - 50);
        Console.WriteLine($"step profile, batch {batchSize} in {shards} shards: {total:F3} ms/step ({batchSize / total * 1000:N0} samples/s)");
        for (int i = 0; i < t.Length; i++) Console.WriteLine($"  {names[i],-16} {t[i] / (steps - 50):F3} ms");
    }
}
