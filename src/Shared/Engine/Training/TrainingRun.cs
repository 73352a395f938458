using System.Diagnostics;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Optimizers;

namespace Distributed.Shared.Training;

/// <summary>
/// The state of a run between steps, shared by single-process and cluster training so that both
/// walk the same epochs, batches and shards: the model, the optimizer and its schedule, the epoch's
/// sample order, the current step, and the metrics so far. Whoever computes a step's gradient
/// writes the batch's mean gradient into <see cref="Model"/>'s gradients and calls
/// <see cref="CompleteStep"/>.
/// </summary>
public sealed class TrainingRun
{
    private readonly IOptimizer _optimizer;
    private readonly LearningRateSchedule _schedule;
    private readonly List<EpochMetrics> _epochs = [];
    private readonly Stopwatch _total = Stopwatch.StartNew();
    private readonly Stopwatch _epochClock = new();
    private int[] _order = [];
    private double _lossSum;
    private long _correct;
    private TimeSpan _lastStepAt;

    public TrainingRun(TrainingOptions options, MnistData data)
    {
        Options = options;
        Data = data;
        Description = options.Model(data.Train.PixelsPerImage, data.Train.Classes);
        Model = Description.Build<float>(options.Seed);
        _optimizer = OptimizerNames.Create(options);
        BatchesPerEpoch = ShardPlan.BatchesPerEpoch(data.Train.Count, options.BatchSize);
        _schedule = new LearningRateSchedule(options.Schedule, options.LearningRate, (long)BatchesPerEpoch * options.Epochs);
        StartEpoch(1);
    }

    public TrainingOptions Options { get; }

    public MnistData Data { get; }

    public Sequential<float> Model { get; }

    public int BatchesPerEpoch { get; }

    /// <summary>The model as data (what workers are told to build); <see cref="Model"/> is built from it.</summary>
    public ModelDescription Description { get; }

    /// <summary>Global step number, from 0; also the version of the weights the step starts from.</summary>
    public long Step { get; private set; }

    public int Epoch { get; private set; }

    /// <summary>Index of the current batch within its epoch.</summary>
    public int Batch { get; private set; }

    public bool Finished => Epoch > Options.Epochs;

    public IReadOnlyList<EpochMetrics> Epochs => _epochs;

    /// <summary>
    /// The current epoch so far: mean train loss and accuracy of the batches done, and its training
    /// seconds. Safe to read from another thread (the live display): it reads one snapshot taken at
    /// the end of each step, never fields half updated (that once showed accuracies above 100 %).
    /// </summary>
    public (double Loss, double Accuracy, double Seconds) EpochSoFar
    {
        get
        {
            var soFar = Volatile.Read(ref _soFar);
            return (soFar?.Item1 ?? double.NaN, soFar?.Item2 ?? double.NaN, _epochClock.Elapsed.TotalSeconds);
        }
    }

    private Tuple<double, double>? _soFar;

    private void SnapshotEpoch()
    {
        int samples = Math.Min(Batch * Options.BatchSize, Data.Train.Count);
        Volatile.Write(ref _soFar, samples == 0 ? null : Tuple.Create(_lossSum / samples, (double)_correct / samples));
    }

    /// <summary>The current epoch's sample order.</summary>
    public int[] Order => _order;

    /// <summary>Positions of the current batch in <see cref="Order"/>.</summary>
    public (int Start, int Count) CurrentBatch => ShardPlan.Batch(Data.Train.Count, Options.BatchSize, Batch);

    /// <summary>Sample indices of shard <paramref name="shard"/> of the current batch (empty for an empty shard).</summary>
    public int[] ShardSamples(int shard)
    {
        var (start, count) = CurrentBatch;
        var (offset, size) = ShardPlan.Range(count, Options.Shards, shard);
        return _order.AsSpan(start + offset, size).ToArray();
    }

    /// <summary>Sample indices of shard <paramref name="shard"/> of the next batch of this epoch (the peer exchange hands out a step's work before the step before it completes).</summary>
    public int[] NextShardSamples(int shard)
    {
        if (Batch + 1 >= BatchesPerEpoch) throw new InvalidOperationException("The next batch is in the next epoch.");
        var (start, count) = ShardPlan.Batch(Data.Train.Count, Options.BatchSize, Batch + 1);
        var (offset, size) = ShardPlan.Range(count, Options.Shards, shard);
        return _order.AsSpan(start + offset, size).ToArray();
    }

    /// <summary>Steps taken since this object was created (a resumed run counts from its checkpoint).</summary>
    public long StepsThisSession => Step - _firstStep;

    private long _firstStep;
    private (int Gen0, int Gen1, int Gen2) _gcAtEpochStart = GcCounts();

    private static (int Gen0, int Gen1, int Gen2) GcCounts() => (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    /// <summary>Starts the clocks (call when the first step is about to be computed, not while waiting for workers).</summary>
    public void Start()
    {
        if (!_epochClock.IsRunning)
        {
            _epochClock.Restart();
            _gcAtEpochStart = GcCounts();
        }
        _firstStep = Step;
    }

    /// <summary>The learning rate the next step is taken with (replicas are told it).</summary>
    public float LearningRate => _schedule.At(_optimizer.Steps + Unapplied);

    /// <summary>
    /// Steps completed by replicas elsewhere (<see cref="CompleteStepElsewhere"/>) that <see cref="Model"/>
    /// does not hold yet: its weights and optimizer are those of step <see cref="Step"/> − Unapplied.
    /// </summary>
    public int Unapplied { get; private set; }

    /// <summary>Where the model's weights are in the run (step, batch, the epoch's sums), for <see cref="Rewind"/>.</summary>
    private (long Step, int Batch, double LossSum, long Correct) _held;

    /// <summary>The optimizer's memory now (what a new replica starts from).</summary>
    public Optimizers.OptimizerState OptimizerState() => _optimizer.ExportState();

    /// <summary>
    /// Steps the optimizer on the mean gradient already in the model's gradients and moves to the
    /// next batch; at an epoch's end evaluates on the test set and returns that epoch's metrics.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The batch's loss is NaN or infinite: the optimizer is not stepped, so the run (and any checkpoint of it) stays at its last good state.</exception>
    public EpochMetrics? CompleteStep(double lossSum, int correct)
    {
        Require(lossSum);
        if (Unapplied > 0) throw new InvalidOperationException($"The model is {Unapplied} step(s) behind the run: adopt the replicas' state first.");
        float lr = LearningRate;
        _optimizer.Step(Model.Parameters, lr);
        return Advance(lossSum, correct, lr);
    }

    /// <summary>
    /// The step was taken by replicas elsewhere (the peer exchange): the run moves on without
    /// touching <see cref="Model"/>, which falls one more step behind. Not for an epoch's last
    /// batch, whose end is evaluated on the weights (<see cref="CompleteStepAdopting"/>).
    /// </summary>
    public void CompleteStepElsewhere(double lossSum, int correct)
    {
        Require(lossSum);
        if (Batch + 1 >= BatchesPerEpoch) throw new InvalidOperationException("An epoch's last step needs the weights: adopt the replicas' state.");
        float lr = LearningRate;
        Unapplied++;
        Advance(lossSum, correct, lr);
    }

    /// <summary>
    /// The step was taken by replicas elsewhere, and this is a replica's state after it (weights and
    /// optimizer memory): the model holds them from now on. The state must be that of this step:
    /// its optimizer has taken exactly the run's steps.
    /// </summary>
    /// <exception cref="InvalidDataException">The state does not fit the model or is not this step's.</exception>
    public EpochMetrics? CompleteStepAdopting(double lossSum, int correct, float[] weights, OptimizerState optimizer)
    {
        Require(lossSum);
        long steps = _optimizer.Steps + Unapplied + 1;
        if (optimizer.Steps != steps) throw new InvalidDataException($"the state is after {optimizer.Steps} optimizer steps, this step's is after {steps}.");
        if (weights.Length != Model.ParameterCount) throw new InvalidDataException($"the state holds {weights.Length} weights, the model {Model.ParameterCount}.");
        if (!weights.All(float.IsFinite)) throw new InvalidDataException("the state's weights are not all finite.");
        float lr = LearningRate;
        _optimizer.ImportState(optimizer, Model.Parameters);
        Model.LoadValues(weights);
        Unapplied = 0;
        return Advance(lossSum, correct, lr);
    }

    /// <summary>
    /// The replicas that held the steps since the model's weights are gone: the run goes back to where
    /// its weights are (same epoch) and takes those steps again, which gives the same bits.
    /// </summary>
    public void Rewind()
    {
        if (Unapplied == 0) return;
        (Step, Batch, _lossSum, _correct) = _held;
        Unapplied = 0;
        SnapshotEpoch();
    }

    private void Require(double lossSum)
    {
        if (Finished) throw new InvalidOperationException("The run has finished.");
        if (!double.IsFinite(lossSum)) throw new TrainingDivergedException(this, lossSum);
    }

    private EpochMetrics? Advance(double lossSum, int correct, float lr)
    {
        _lossSum += lossSum;
        _correct += correct;
        Step++;
        var now = _epochClock.Elapsed;
        StepMetrics.Step(CurrentBatch.Count, lossSum, (now - _lastStepAt).TotalMilliseconds);
        _lastStepAt = now;
        if (++Batch < BatchesPerEpoch)
        {
            if (Unapplied == 0) _held = (Step, Batch, _lossSum, _correct);
            SnapshotEpoch();
            return null;
        }

        double trainSeconds = _epochClock.Elapsed.TotalSeconds;
        var gc = GcCounts();
        var evalClock = Stopwatch.StartNew();
        var test = Evaluator.Evaluate(Model, Data.Test);
        int samples = Data.Train.Count;
        var metrics = new EpochMetrics(Epoch, _lossSum / samples, (double)_correct / samples, test.MeanLoss, test.Accuracy,
            trainSeconds > 0 ? samples / trainSeconds : 0, trainSeconds, evalClock.Elapsed.TotalSeconds, lr,
            gc.Gen0 - _gcAtEpochStart.Gen0, gc.Gen1 - _gcAtEpochStart.Gen1, gc.Gen2 - _gcAtEpochStart.Gen2);
        _epochs.Add(metrics);
        StartEpoch(Epoch + 1);
        return metrics;
    }

    /// <summary>The run's state now, for a checkpoint (only while the model holds the run's weights).</summary>
    public Checkpoint Capture() => Unapplied > 0 ? throw new InvalidOperationException($"The model is {Unapplied} step(s) behind the run: nothing to checkpoint.") : new(Options, Data.Train.Count, Data.Train.Fingerprint(Data.Train.Count), Step, Epoch, Batch,
        _lossSum, _correct, _epochs.ToArray(), Model.FlattenValues(), _optimizer.ExportState(), DateTime.UtcNow);

    /// <summary>A run continuing from a checkpoint, on the same data (checked).</summary>
    public static TrainingRun Restore(Checkpoint checkpoint, MnistData data)
    {
        var options = checkpoint.Options with { TrainLimit = checkpoint.Options.TrainLimit, TestLimit = checkpoint.Options.TestLimit };
        if (data.Train.Count != checkpoint.TrainSamples || data.Train.Fingerprint(data.Train.Count) != checkpoint.DataFingerprint)
            throw new InvalidDataException($"the checkpoint was trained on {checkpoint.TrainSamples} images with fingerprint {checkpoint.DataFingerprint[..12]}…, " +
                $"but the data given has {data.Train.Count} images with fingerprint {data.Train.Fingerprint(data.Train.Count)[..12]}….");
        var run = new TrainingRun(options, data);
        if (checkpoint.Weights.Length != run.Model.ParameterCount)
            throw new InvalidDataException($"the checkpoint holds {checkpoint.Weights.Length} weights, the model {run.Description} has {run.Model.ParameterCount}.");
        if (checkpoint.Epoch < 1 || checkpoint.Batch < 0 || checkpoint.Batch >= run.BatchesPerEpoch && checkpoint.Epoch <= options.Epochs)
            throw new InvalidDataException($"the checkpoint's position (epoch {checkpoint.Epoch}, batch {checkpoint.Batch}) is outside the run.");
        run.Model.LoadValues(checkpoint.Weights);
        run._optimizer.ImportState(checkpoint.Optimizer, run.Model.Parameters);
        run._epochs.AddRange(checkpoint.Epochs);
        run.Step = checkpoint.Step;
        run.StartEpoch(checkpoint.Epoch);
        run.Batch = checkpoint.Batch;
        run._lossSum = checkpoint.EpochLossSum;
        run._correct = checkpoint.EpochCorrect;
        run._held = (run.Step, run.Batch, run._lossSum, run._correct);
        run.SnapshotEpoch();
        return run;
    }

    public TrainingResult Result()
    {
        var weights = Model.FlattenValues();
        return new TrainingResult(_epochs, weights, WeightsHash.Sha256(weights), _total.Elapsed.TotalSeconds);
    }

    public static string Describe(EpochMetrics m, int epochs) =>
        $"epoch {m.Epoch}/{epochs}  train loss {m.TrainLoss:F4}  train acc {m.TrainAccuracy:P2}  " +
        $"test loss {m.TestLoss:F4}  test acc {m.TestAccuracy:P2}  {m.SamplesPerSecond:N0} samples/s  {m.TrainSeconds:F2} s";

    private void StartEpoch(int epoch)
    {
        Epoch = epoch;
        Batch = 0;
        _lossSum = 0;
        _correct = 0;
        _held = (Step, 0, 0, 0);
        Volatile.Write(ref _soFar, null);
        if (Finished) return;
        _order = ShardPlan.EpochOrder(Options.Seed, epoch, Data.Train.Count);
        if (epoch > 1)
        {
            _epochClock.Restart();
            _gcAtEpochStart = GcCounts();
        }
        _lastStepAt = TimeSpan.Zero;
    }
}

/// <summary>The loss became NaN or infinite: the run stopped at its last good step, and the message says what to change.</summary>
public sealed class TrainingDivergedException(TrainingRun run, double loss) : Exception(
    $"training diverged at step {run.Step} (epoch {run.Epoch}, batch {run.Batch}): the batch's loss is {(double.IsNaN(loss) ? "NaN" : "infinite")}. " +
    $"Lower --lr (it is {run.Options.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture)}); checkpoints written so far hold the last good weights.")
{
    public long Step { get; } = run.Step;
}
