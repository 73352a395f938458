using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;
using Distributed.Shared.Optimizers;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>Where one training step's time goes.</summary>
public static class StepProfile
{
    /// <summary>One shard's phases on one thread (batch build, forward, loss, backward).</summary>
    public static void Shard(ImageSet train, int shardSize, int steps = 400)
    {
        var model = Mlp.Create<float>(784, [256, 128], 10, seed: 1);
        var loss = new SoftmaxCrossEntropy<float>(LossReduction.Sum);
        var builder = new BatchBuilder();
        var order = ShardPlan.EpochOrder(1, 1, train.Count);
        var t = new double[5];
        string[] names = ["batch build", "forward", "loss fwd+bwd", "backward", "copy gradient out"];
        var flat = new float[model.ParameterCount];
        var sw = new Stopwatch();
        void Lap(int i) { t[i] += sw.Elapsed.TotalMilliseconds; sw.Restart(); }
        using var serial = Gemm.SerialOnThisThread();
        for (int step = 0; step < steps; step++)
        {
            if (step == 100) Array.Clear(t);
            sw.Restart();
            var (x, y) = builder.Build(train, order.AsSpan(step * shardSize % (train.Count - shardSize), shardSize)); Lap(0);
            var logits = model.Forward(x); Lap(1);
            loss.Forward(logits, y); var g = loss.Backward().InputGradient; Lap(2);
            model.Backward(g); Lap(3);
            model.CopyGradientsTo(flat); Lap(4);
        }
        double total = t.Sum() / (steps - 100);
        Console.WriteLine($"one shard of {shardSize} on one thread: {total:F3} ms");
        for (int i = 0; i < t.Length; i++) Console.WriteLine($"  {names[i],-18} {t[i] / (steps - 100):F3} ms");
    }

    /// <summary>A whole step: sharded gradient on all replicas, then the optimizer.</summary>
    public static void Step(ImageSet train, int batchSize, int shards, int replicas, int steps = 400, bool onePass = false)
    {
        var model = Mlp.Create<float>(784, [256, 128], 10, seed: 1);
        var step = new ShardedStep(model, shards, replicas, seed: 1, onePass);
        var adam = new Adam();
        var order = ShardPlan.EpochOrder(1, 1, train.Count);
        double gradient = 0, optimizer = 0;
        var sw = new Stopwatch();
        for (int i = 0; i < steps; i++)
        {
            if (i == 100) gradient = optimizer = 0;
            sw.Restart();
            step.Run(train, order, i * batchSize % (train.Count - batchSize), batchSize, step: i);
            gradient += sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            adam.Step(model.Parameters, 0.001f);
            optimizer += sw.Elapsed.TotalMilliseconds;
        }
        double n = steps - 100;
        Console.WriteLine($"step, batch {batchSize} in {shards} shards {(onePass ? "in one pass" : $"on {step.Replicas} replica(s)")}: {(gradient + optimizer) / n:F3} ms " +
            $"({batchSize / ((gradient + optimizer) / n) * 1000:N0} samples/s): gradient {gradient / n:F3} ms, optimizer {optimizer / n:F3} ms");
    }
}
