namespace Distributed.Shared.Training;

/// <summary>
/// Everything that determines a training run's result. Two runs with equal options (and data)
/// produce the same weights, bit for bit, whatever the number of workers.
/// </summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 3;
    public int BatchSize { get; init; } = 128;

    /// <summary>Virtual shards per global batch: fixed by the run, independent of the workers alive.</summary>
    public int Shards { get; init; } = 4;

    /// <summary>
    /// Reduction blocks (see <see cref="ReductionPlan"/>): shards are summed within each block, then the
    /// blocks in order. Part of the result's definition; a worker holding a whole block sends one gradient for it.
    /// </summary>
    public int Blocks { get; init; } = 1;

    public ReductionPlan Reduction() => new(Shards, Blocks);

    public string Optimizer { get; init; } = OptimizerNames.Adam;
    public float LearningRate { get; init; } = 0.002f;
    public string Schedule { get; init; } = "cosine";
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; }
    /// <summary>Hidden widths of the MLP preset; ignored when <see cref="Architecture"/> is given.</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [256, 128];

    /// <summary>
    /// The model's layers in the model-description syntax (<see cref="Layers.ModelDescription.Parse"/>),
    /// e.g. <c>dense256,relu,dense10</c>; null: the MLP preset of <see cref="Hidden"/>.
    /// </summary>
    public string? Architecture { get; init; }

    /// <summary>The model these options train on <paramref name="inputs"/> values per sample and <paramref name="classes"/> classes.</summary>
    public Layers.ModelDescription Model(int inputs, int classes) => Architecture is null
        ? Layers.ModelDescription.Mlp(inputs, Hidden, classes)
        : Layers.ModelDescription.Parse(inputs, Architecture);
    public int Seed { get; init; } = 1;
    public int? TrainLimit { get; init; }
    public int? TestLimit { get; init; }

    /// <summary>Bounds that keep every size and count far from overflow (and memory within a machine).</summary>
    public const int MaxEpochs = 100_000, MaxBatchSize = 1 << 20, MaxShards = 4096, MaxLayerSize = 16_384, MaxHiddenLayers = 32;

    /// <summary>Largest model (parameters): its weights, gradients and optimizer state stay under ~2 GB.</summary>
    public const long MaxParameters = 100_000_000;

    /// <summary>A learning rate above this is a typo, not a recipe (the run would diverge at once).</summary>
    public const float MaxLearningRate = 10f;

    /// <summary>Problems with the options, each a sentence naming the option; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Epochs <= 0) errors.Add($"--epochs must be at least 1 (got {Epochs}).");
        else if (Epochs > MaxEpochs) errors.Add($"--epochs must be at most {MaxEpochs} (got {Epochs}).");
        if (BatchSize <= 0) errors.Add($"--batch-size must be at least 1 (got {BatchSize}).");
        else if (BatchSize > MaxBatchSize) errors.Add($"--batch-size must be at most {MaxBatchSize} (got {BatchSize}).");
        if (Shards <= 0) errors.Add($"--shards must be at least 1 (got {Shards}).");
        else if (Shards > MaxShards) errors.Add($"--shards must be at most {MaxShards} (got {Shards}).");
        else if (BatchSize > 0 && BatchSize < Shards) errors.Add($"--batch-size ({BatchSize}) must be at least --shards ({Shards}) so that every shard has a sample.");
        if (Shards > 0 && (Blocks < 1 || Blocks > Shards)) errors.Add($"--blocks must be between 1 and --shards ({Shards}) (got {Blocks}).");
        if (!(LearningRate > 0) || !(LearningRate <= MaxLearningRate)) errors.Add($"--lr must be a positive number of at most {MaxLearningRate} (got {LearningRate}).");
        if (!(Momentum >= 0 && Momentum < 1)) errors.Add($"--momentum must be in [0, 1) (got {Momentum}).");
        if (!(WeightDecay >= 0) || !float.IsFinite(WeightDecay)) errors.Add($"--weight-decay must be zero or positive (got {WeightDecay}).");
        if (!OptimizerNames.All.Contains(Optimizer)) errors.Add($"--optimizer must be one of {string.Join(", ", OptimizerNames.All)} (got '{Optimizer}').");
        if (!Optimizers.LearningRateSchedule.Kinds.Contains(Schedule)) errors.Add($"--schedule must be one of {string.Join(", ", Optimizers.LearningRateSchedule.Kinds)} (got '{Schedule}').");
        if (Architecture is null && Hidden.Any(h => h <= 0 || h > MaxLayerSize)) errors.Add($"--hidden sizes must be in 1–{MaxLayerSize} (got {string.Join(",", Hidden)}).");
        else if (Architecture is null && Hidden.Count > MaxHiddenLayers) errors.Add($"--hidden may list at most {MaxHiddenLayers} layers (got {Hidden.Count}).");
        else ValidateModel(errors);
        if (TrainLimit is <= 0) errors.Add($"--train-limit must be at least 1 (got {TrainLimit}).");
        if (TestLimit is <= 0) errors.Add($"--test-limit must be at least 1 (got {TestLimit}).");
        return errors;
    }

    /// <summary>Parameters of the model these options describe for <paramref name="inputs"/> values and <paramref name="classes"/> classes (in 64 bits).</summary>
    public long ParameterCount(int inputs, int classes) => Model(inputs, classes).ParameterCount;

    /// <summary>The model's problems for MNIST (784 pixels, 10 classes): a bad --arch, too many layers or parameters, the wrong output width.</summary>
    private void ValidateModel(List<string> errors)
    {
        string option = Architecture is null ? $"--hidden {string.Join(",", Hidden)}" : $"--arch {Architecture}";
        Layers.ModelDescription model;
        try
        {
            model = Model(784, 10);
        }
        catch (FormatException e)
        {
            errors.Add($"--arch: {e.Message}");
            return;
        }
        if (model.Layers.Count > 2 * MaxHiddenLayers + 1) errors.Add($"{option} has {model.Layers.Count} layers, more than {2 * MaxHiddenLayers + 1}.");
        else if (model.ParameterCount is var n && n > MaxParameters) errors.Add($"{option} gives {n:N0} parameters for MNIST, more than {MaxParameters:N0}.");
        else if (model.Outputs != 10) errors.Add($"{option}: the last layer gives {model.Outputs} outputs; MNIST needs 10, one per class (end with dense10).");
    }
}

public static class OptimizerNames
{
    public const string Sgd = "sgd";
    public const string Nesterov = "nesterov";
    public const string Adam = "adam";

    public static readonly IReadOnlyList<string> All = [Sgd, Nesterov, Adam];

    public static Optimizers.IOptimizer Create(TrainingOptions o) => o.Optimizer switch
    {
        Sgd => new Optimizers.Sgd(o.Momentum, nesterov: false, o.WeightDecay),
        Nesterov => new Optimizers.Sgd(o.Momentum, nesterov: true, o.WeightDecay),
        Adam => new Optimizers.Adam(weightDecay: o.WeightDecay),
        _ => throw new ArgumentException($"Unknown optimizer '{o.Optimizer}'."),
    };
}
