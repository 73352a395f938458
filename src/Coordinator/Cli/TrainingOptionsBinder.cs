using System.CommandLine;
using System.CommandLine.Parsing;
using Distributed.Shared.Optimizers;
using Distributed.Shared.Training;

namespace Distributed.Coordinator.Cli;

/// <summary>The training options as command-line options, shared by every command that trains.</summary>
public sealed class TrainingOptionsBinder
{
    private static readonly TrainingOptions Defaults = new();

    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => Defaults.Epochs };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Global batch size (samples per optimizer step).", DefaultValueFactory = _ => Defaults.BatchSize };
    public Option<int> Blocks { get; } = new("--blocks") { Description = "Reduction blocks: shard gradients are summed within each block, then the blocks in order (part of the result; a worker holding a whole block sends one gradient).", DefaultValueFactory = _ => Defaults.Blocks };
    public Option<int> Shards { get; } = new("--shards") { Description = "Virtual shards per global batch (fixed for the run; results do not depend on workers).", DefaultValueFactory = _ => Defaults.Shards };
    public Option<string> Optimizer { get; } = new("--optimizer") { Description = $"One of {string.Join(", ", OptimizerNames.All)}.", DefaultValueFactory = _ => Defaults.Optimizer };
    public Option<float> LearningRate { get; } = new("--lr") { Description = "Base learning rate.", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<string> Schedule { get; } = new("--schedule") { Description = $"Learning-rate schedule: {string.Join(", ", LearningRateSchedule.Kinds)}.", DefaultValueFactory = _ => Defaults.Schedule };
    public Option<float> Momentum { get; } = new("--momentum") { Description = "Momentum for sgd and nesterov.", DefaultValueFactory = _ => Defaults.Momentum };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "L2 (sgd) or decoupled (adam) weight decay.", DefaultValueFactory = _ => Defaults.WeightDecay };
    public Option<int[]> Hidden { get; } = new("--hidden")
    {
        Description = "Hidden layer sizes, comma-separated.",
        DefaultValueFactory = _ => Defaults.Hidden.ToArray(),
        CustomParser = ParseSizes,
    };
    public Option<string?> Architecture { get; } = new("--arch")
    {
        Description = "The model's layers, comma-separated: dense<width>, relu, conv<channels>k<kernel>[s<stride>][p<padding>], maxpool<size>, flatten, dropout<rate>, " +
            "e.g. conv32k3,relu,maxpool2,flatten,dense10 (instead of --model or --hidden; see docs/models.md).",
    };
    public Option<string> Model { get; } = new Option<string>("--model")
    {
        Description = "A model with its recipe: " + string.Join("; ", ModelPreset.All.Select(p => $"{p.Name}, {p.Summary}, {p.Epochs} epochs {p.Optimizer} lr {p.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture)} {p.Schedule}")) +
            ". --epochs, --optimizer, --lr and --schedule override the recipe.",
        DefaultValueFactory = _ => ModelPreset.Mlp.Name,
    }.AcceptOnlyFromAmong([.. ModelPreset.All.Select(p => p.Name)]);
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed for initialisation and shuffling.", DefaultValueFactory = _ => Defaults.Seed };
    public Option<int?> TrainLimit { get; } = new("--train-limit") { Description = "Use only the first N training images." };
    public Option<int?> TestLimit { get; } = new("--test-limit") { Description = "Use only the first N test images." };
    public Option<string> Data { get; } = new("--data") { Description = "Folder with the four MNIST IDX files (raw or .gz). Default: the bundled data/mnist." };
    public Option<string> Out { get; } = new("--out") { Description = "Output folder for metrics.json and model.safetensors.", DefaultValueFactory = _ => "runs/latest" };
    public Option<int> Threads { get; } = new("--threads") { Description = "Threads for matrix products (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };

    public Option<int> FrameSize { get; } = new("--frame-size")
    {
        Description = "Largest remote message in bytes (akka.remote.dot-netty.tcp.maximum-frame-size); must hold 4 bytes per parameter.",
        DefaultValueFactory = _ => Shared.Cluster.ClusterSettings.DefaultMaximumFrameSize,
    };

    public Option<double> StepTimeout { get; } = new("--step-timeout")
    {
        Description = "Seconds a worker may stay silent within a step before its shards also go to others.",
        DefaultValueFactory = _ => Cluster.Supervision.DefaultStepTimeout.TotalSeconds,
    };

    public Option<double> WorkerTimeout { get; } = new("--worker-timeout")
    {
        Description = "Seconds to wait for enough workers at the start, or for any worker when none is left, before giving up.",
        DefaultValueFactory = _ => Cluster.Supervision.DefaultWorkerTimeout.TotalSeconds,
    };

    public Option<int> CheckpointEvery { get; } = new("--checkpoint-every")
    {
        Description = "Write a checkpoint (into --out) every N steps, and at every epoch end; 0: epoch ends only.",
        DefaultValueFactory = _ => 100,
    };

    public Option<string?> Resume { get; } = new("--resume")
    {
        Description = "Continue the run checkpointed in this folder (its training options apply); --out defaults to the same folder.",
    };

    public TlsOptions Tls { get; } = new();

    public Option<bool> Plain { get; } = new("--plain") { Description = "Plain log lines even at a terminal (no live display)." };

    public Option<string> Wire { get; } = new Option<string>("--wire")
    {
        Description = "Number format of weights and gradients between nodes: f32 (exact, the default) or bf16 (half the bytes, not exact: the hash then differs from a single process's).",
        DefaultValueFactory = _ => "f32",
    }.AcceptOnlyFromAmong("f32", "bf16");

    public Option<string> Exchange { get; } = new Option<string>("--exchange")
    {
        Description = "How gradients are combined: coordinator (every worker's gradient goes to the coordinator, which sends weights back; the default) or peers " +
            "(workers reduce-scatter slices among themselves and all-gather the reduced gradient, each a full replica; no link carries more than 2(N-1)/N of the model per step). Same hash either way.",
        DefaultValueFactory = _ => "coordinator",
    }.AcceptOnlyFromAmong("coordinator", "peers");

    public Option<bool> NoDataPlane { get; } = new("--no-data-plane") { Description = "Send weights and gradients over Akka.Remote instead of a dedicated TCP connection per worker (same results, slower). [Node:DataPlane=false]" };

    public Option<int?> MetricsPort { get; } = new("--metrics-port") { Description = "Serve OpenTelemetry metrics for Prometheus at http://localhost:PORT/metrics." };

    public IEnumerable<Option> All => [Epochs, BatchSize, Shards, Blocks, Optimizer, LearningRate, Schedule, Momentum, WeightDecay, Hidden, Architecture, Model, Seed, TrainLimit, TestLimit,
        Data, Out, Threads, FrameSize, StepTimeout, WorkerTimeout, CheckpointEvery, Resume, Plain, MetricsPort, NoDataPlane, Wire, Exchange, .. Tls.All];

    public TrainCommand.JobOptions Job(ParseResult r, int workers)
    {
        string? resume = r.GetValue(Resume);
        bool outGiven = r.GetResult(Out) is { Implicit: false };
        string outFolder = resume is not null && !outGiven ? resume : r.GetValue(Out)!;
        return new(r.GetValue(Data), outFolder, r.GetValue(Threads), workers, r.GetValue(FrameSize), r.GetValue(StepTimeout), r.GetValue(WorkerTimeout),
            r.GetValue(CheckpointEvery), resume, Tls.Bind(r), r.GetValue(Plain), r.GetValue(MetricsPort), !r.GetValue(NoDataPlane),
            r.GetValue(Wire) == "bf16" ? Shared.Protocol.TensorWire.BFloat16 : Shared.Protocol.TensorWire.Float32, r.GetValue(Exchange) == "peers")
        {
            GivenTrainingOptions = TrainingOptionNames.Where(o => r.GetResult(o.Option) is { Implicit: false }).Select(o => o.Option.Name).ToArray(),
        };
    }

    /// <summary>The options that define a run's result (a checkpoint holds them), with how to read each from <see cref="TrainingOptions"/>.</summary>
    private IEnumerable<(Option Option, Func<TrainingOptions, string> Value)> TrainingOptionNames =>
    [
        (Epochs, o => Text(o.Epochs)), (BatchSize, o => Text(o.BatchSize)), (Shards, o => Text(o.Shards)), (Blocks, o => Text(o.Blocks)),
        (Optimizer, o => o.Optimizer), (LearningRate, o => Text(o.LearningRate)), (Schedule, o => o.Schedule), (Momentum, o => Text(o.Momentum)),
        (WeightDecay, o => Text(o.WeightDecay)), (Hidden, o => string.Join(",", o.Hidden)), (Architecture, o => o.Architecture ?? "none"),
        (Model, o => ModelPreset.Of(o)?.Name ?? "none (--arch)"), (Seed, o => Text(o.Seed)),
        (TrainLimit, o => o.TrainLimit is { } t ? Text(t) : "all"), (TestLimit, o => o.TestLimit is { } t ? Text(t) : "all"),
    ];

    private static string Text(IFormattable value) => value.ToString(null, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// With --resume the checkpoint's options apply: each training option given on the command line
    /// that differs from the checkpoint's is a conflict, named with both values.
    /// </summary>
    public IReadOnlyList<string> ResumeConflicts(TrainingOptions given, TrainingOptions checkpoint, IReadOnlyCollection<string> names) =>
        TrainingOptionNames.Where(o => names.Contains(o.Option.Name) && o.Value(given) != o.Value(checkpoint))
            .Select(o => $"{o.Option.Name} {o.Value(given)} (the checkpoint's run has {o.Value(checkpoint)})").ToList();

    /// <summary>The training options given, with the <c>--model</c> preset's layers and recipe where the user gave none of their own.</summary>
    public TrainingOptions Bind(ParseResult r)
    {
        var given = TrainingOptionNames.Where(o => r.GetResult(o.Option) is { Implicit: false }).Select(o => o.Option.Name).ToArray();
        return ModelPreset.Named(r.GetValue(Model)!).AppliedTo(BindGiven(r), given);
    }

    private TrainingOptions BindGiven(ParseResult r) => new()
    {
        Epochs = r.GetValue(Epochs),
        BatchSize = r.GetValue(BatchSize),
        Shards = r.GetValue(Shards),
        Blocks = r.GetValue(Blocks),
        Optimizer = r.GetValue(Optimizer)!,
        LearningRate = r.GetValue(LearningRate),
        Schedule = r.GetValue(Schedule)!,
        Momentum = r.GetValue(Momentum),
        WeightDecay = r.GetValue(WeightDecay),
        Hidden = r.GetValue(Hidden)!,
        Architecture = r.GetValue(Architecture),
        Seed = r.GetValue(Seed),
        TrainLimit = r.GetValue(TrainLimit),
        TestLimit = r.GetValue(TestLimit),
    };

    private static int[] ParseSizes(ArgumentResult result)
    {
        string text = string.Join(",", result.Tokens.Select(t => t.Value));
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var sizes = new List<int>();
        foreach (var part in parts)
        {
            if (part.Length == 0 && parts.Length == 1) return [];
            if (!int.TryParse(part, out int size) || size <= 0)
            {
                result.AddError($"--hidden: '{text}' is not a comma-separated list of positive layer sizes such as 256,128 ('{part}' is not a positive integer).");
                return [];
            }
            sizes.Add(size);
        }
        return sizes.ToArray();
    }
}
