namespace Distributed.Shared.Optimizers;

/// <summary>The learning rate as a function of the step: constant, or cosine decay to zero over the run.</summary>
public sealed record LearningRateSchedule(string Kind, float BaseRate, long TotalSteps)
{
    public const string Constant = "constant";
    public const string Cosine = "cosine";

    public static readonly IReadOnlyList<string> Kinds = [Constant, Cosine];

    // cosine: η_t = η·(1 + cos(π·t/T)) / 2
    public float At(long step) => Kind switch
    {
        Constant => BaseRate,
        Cosine => (float)(BaseRate * (1 + Math.Cos(Math.PI * Math.Min(step, TotalSteps) / Math.Max(1, TotalSteps))) / 2),
        _ => throw new ArgumentException($"Unknown learning-rate schedule '{Kind}'; expected one of: {string.Join(", ", Kinds)}."),
    };
}
