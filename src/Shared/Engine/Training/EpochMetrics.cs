namespace Distributed.Shared.Training;

/// <summary>
/// One epoch's figures, as printed and as written to metrics.json. The garbage collections are this
/// process's during the epoch's training (in the single-machine simulation that covers every node).
/// </summary>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double TestLoss,
    double TestAccuracy,
    double SamplesPerSecond,
    double TrainSeconds,
    double EvaluationSeconds,
    float LearningRate,
    int Gen0Collections = 0,
    int Gen1Collections = 0,
    int Gen2Collections = 0);

/// <summary>The outcome of a run: per-epoch figures and the final weights.</summary>
public sealed record TrainingResult(IReadOnlyList<EpochMetrics> Epochs, float[] FinalWeights, string FinalWeightsSha256, double TotalSeconds);
