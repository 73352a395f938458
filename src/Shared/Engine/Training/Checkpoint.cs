using Distributed.Shared.Optimizers;

namespace Distributed.Shared.Training;

/// <summary>
/// Everything needed to continue a run bit for bit: its options, where it stands (step, epoch,
/// batch, the epoch's running loss and accuracy), the metrics so far, the weights and the
/// optimizer's state. Random choices need no saved state: each (initialisation, every epoch's
/// shuffle) is drawn from the run seed and its purpose alone.
/// </summary>
public sealed record Checkpoint(
    TrainingOptions Options,
    int TrainSamples,
    string DataFingerprint,
    long Step,
    int Epoch,
    int Batch,
    double EpochLossSum,
    long EpochCorrect,
    IReadOnlyList<EpochMetrics> Epochs,
    float[] Weights,
    OptimizerState Optimizer,
    DateTime CreatedUtc);
