using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Optimizers;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>
/// Single-process training (<c>--workers 0</c>): each global batch is cut into the run's virtual
/// shards, each shard's gradient sum is computed by the same <see cref="ShardTrainer"/> a worker
/// uses and added in shard order, then the optimizer steps on the mean. So the weights equal a
/// cluster run's bit for bit.
/// </summary>
/// <remarks>Shards of a batch are computed side by side on <paramref name="replicas"/> cores.</remarks>
public sealed class LocalTrainer(TrainingOptions options, MnistData data, Action<string> log, int replicas = 1)
{
    public Sequential<float> Model { get; } = Mlp.Create<float>(data.Train.PixelsPerImage, options.Hidden, data.Train.Classes, options.Seed);

    public TrainingResult Run()
    {
        var total = Stopwatch.StartNew();
        var step = new ShardedStep(Model, options.Shards, replicas);
        var optimizer = OptimizerNames.Create(options);
        int samples = data.Train.Count;
        int batches = ShardPlan.BatchesPerEpoch(samples, options.BatchSize);
        var schedule = new LearningRateSchedule(options.Schedule, options.LearningRate, (long)batches * options.Epochs);
        var epochs = new List<EpochMetrics>();

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            var order = ShardPlan.EpochOrder(options.Seed, epoch, samples);
            double lossSum = 0;
            long correct = 0;
            float lr = 0;
            for (int b = 0; b < batches; b++)
            {
                var (start, count) = ShardPlan.Batch(samples, options.BatchSize, b);
                var (batchLoss, batchCorrect) = step.Run(data.Train, order, start, count);
                lossSum += batchLoss;
                correct += batchCorrect;
                lr = schedule.At(optimizer.Steps);
                optimizer.Step(Model.Parameters, lr);
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            var evalClock = Stopwatch.StartNew();
            var test = Evaluator.Evaluate(Model, data.Test);
            var metrics = new EpochMetrics(epoch, lossSum / samples, (double)correct / samples, test.MeanLoss, test.Accuracy,
                samples / trainSeconds, trainSeconds, evalClock.Elapsed.TotalSeconds, lr);
            epochs.Add(metrics);
            log($"epoch {epoch}/{options.Epochs}  train loss {metrics.TrainLoss:F4}  train acc {metrics.TrainAccuracy:P2}  " +
                $"test loss {metrics.TestLoss:F4}  test acc {metrics.TestAccuracy:P2}  {metrics.SamplesPerSecond:N0} samples/s  {trainSeconds:F2} s");
        }
        var weights = Model.FlattenValues();
        return new TrainingResult(epochs, weights, WeightsHash.Sha256(weights), total.Elapsed.TotalSeconds);
    }
}
