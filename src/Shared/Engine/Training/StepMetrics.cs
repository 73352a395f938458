using System.Diagnostics.Metrics;

namespace Distributed.Shared.Training;

/// <summary>
/// The engine's metrics as System.Diagnostics.Metrics instruments (meter "Distributed", no exporter
/// here): steps, samples, step time and the last step's loss. The cluster library exports them with its own.
/// </summary>
public static class StepMetrics
{
    public const string MeterName = "Distributed";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly Counter<long> StepsCounter = Meter.CreateCounter<long>("distributed.steps", "{step}", "Optimizer steps completed.");
    private static readonly Counter<long> SamplesCounter = Meter.CreateCounter<long>("distributed.samples", "{sample}", "Training samples processed.");
    private static readonly Histogram<double> StepTime = Meter.CreateHistogram<double>("distributed.step.duration", "ms", "Wall time of a training step (gradient, reduction and optimizer).");
    private static double s_loss = double.NaN;

    static StepMetrics() => Meter.CreateObservableGauge("distributed.loss", () => s_loss, "{loss}", "Mean training loss of the last completed step.");

    public static void Step(int samples, double lossSum, double milliseconds)
    {
        StepsCounter.Add(1);
        SamplesCounter.Add(samples);
        StepTime.Record(milliseconds);
        if (samples > 0) s_loss = lossSum / samples;
    }
}
