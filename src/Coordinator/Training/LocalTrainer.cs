using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Training;

/// <summary>
/// Single-process training (<c>--workers 0</c>): each global batch's virtual shards are computed by
/// the same <see cref="ShardTrainer"/> a worker uses, side by side on <paramref name="replicas"/>
/// cores, and added in shard order; so the weights equal a cluster run's bit for bit.
/// </summary>
public sealed class LocalTrainer(TrainingOptions options, MnistData data, Action<string> log, int replicas = 1)
{
    private readonly TrainingRun _run = new(options, data);

    public Shared.Layers.Sequential<float> Model => _run.Model;

    public TrainingResult Run()
    {
        var step = new ShardedStep(_run.Model, options.Shards, replicas);
        _run.Start();
        while (!_run.Finished)
        {
            var (start, count) = _run.CurrentBatch;
            var (loss, correct) = step.Run(data.Train, _run.Order, start, count);
            if (_run.CompleteStep(loss, correct) is { } epoch) log(TrainingRun.Describe(epoch, options.Epochs));
        }
        return _run.Result();
    }
}
