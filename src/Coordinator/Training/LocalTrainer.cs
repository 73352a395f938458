using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>
/// Single-process training (<c>--workers 0</c>): each global batch's virtual shards are computed by
/// the same <see cref="ShardTrainer"/> a worker uses, side by side on <paramref name="replicas"/>
/// cores, and added in shard order; so the weights equal a cluster run's bit for bit.
/// </summary>
public sealed class LocalTrainer(TrainingRun run, Action<string> log, int replicas = 1, Action<TrainingRun, EpochMetrics?>? onStep = null)
{
    private readonly TrainingRun _run = run;

    public LocalTrainer(TrainingOptions options, MnistData data, Action<string> log, int replicas = 1)
        : this(new TrainingRun(options, data), log, replicas)
    {
    }

    public Shared.Layers.Sequential<float> Model => _run.Model;

    public TrainingResult Run() => Run(CancellationToken.None)!;

    /// <summary>Trains to the end, or until <paramref name="stop"/> is cancelled: then returns null with the run at a step boundary (ready to checkpoint).</summary>
    public TrainingResult? Run(CancellationToken stop)
    {
        // A dense model's shards go fastest as one pass of larger products; a convolutional one's im2col,
        // pools and dropout are serial loops, so its shards run side by side on replicas (same bits either way).
        var step = new ShardedStep(_run.Model, _run.Options.Shards, replicas, _run.Options.Seed, onePass: !_run.Description.IsConvolutional, blocks: _run.Options.Blocks);
        _run.Start();
        while (!_run.Finished)
        {
            if (stop.IsCancellationRequested) return null;
            var (start, count) = _run.CurrentBatch;
            var (loss, correct) = step.Run(_run.Data.Train, _run.Order, start, count, _run.Step);
            var epoch = _run.CompleteStep(loss, correct);
            if (epoch is not null) log(TrainingRun.Describe(epoch, _run.Options.Epochs));
            onStep?.Invoke(_run, epoch);
        }
        return _run.Result();
    }
}
