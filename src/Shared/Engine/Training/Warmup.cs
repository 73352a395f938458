using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>
/// Runs the training code once on a throwaway model and synthetic images, so that the JIT compiles
/// it while the real data is still loading rather than inside the first epoch (measured: the first
/// epoch ran ~25% slower than the others). Touches no state a run reads: its own model, optimizer and
/// data, nothing seeded from the run.
/// </summary>
public static class Warmup
{
    /// <summary>Starts the warm-up on a thread of its own; wait for the returned task before training.</summary>
    public static Task Start(TrainingOptions options, int threads) =>
        Task.Factory.StartNew(() => Run(options, threads), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static void Run(TrainingOptions options, int threads)
    {
        // A convolution's buffers grow with the images per pass (the CNN's second conv: 0.66 MB of im2col per
        // image, twice over in backward), and compiling the code needs no more than 2 images per shard.
        var description = options.Model(784, 10);
        int batch = description.IsConvolutional ? 2 * options.Shards : Math.Max(options.Shards, Math.Min(options.BatchSize, 256));
        var pixels = new byte[batch * 784];
        var labels = new byte[batch];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 37 % 251);
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(i % 10);
        var data = new ImageSet(pixels, labels, 28, 28);
        var order = Enumerable.Range(0, batch).ToArray();
        var model = description.Build<float>(seed: 0);
        var optimizer = OptimizerNames.Create(options);
        // The single-process step (one pass, and on replicas), then a worker's paths on one thread.
        new ShardedStep(model, options.Shards, Math.Max(1, threads), options.Seed, blocks: options.Blocks).Run(data, order, 0, batch, step: 0);
        new ShardedStep(model, options.Shards, Math.Max(1, threads), options.Seed, onePass: false).Run(data, order, 0, batch, step: 0);
        optimizer.Step(model.Parameters, options.LearningRate);
        using (Gemm.SerialOnThisThread())
        {
            var trainer = new ShardTrainer(model, options.Seed);
            int half = batch / 2;
            trainer.Run(data, order.AsSpan(0, half), step: 0);
            trainer.Run(data, order, [0, half, batch], step: 0);
        }
        Evaluator.Evaluate(model, data);
    }
}
