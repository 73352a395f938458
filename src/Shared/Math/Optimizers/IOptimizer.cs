using Distributed.Shared.Layers;

namespace Distributed.Shared.Optimizers;

/// <summary>
/// Updates parameters from their gradients; sees nothing but the parameters. State (momenta) is
/// kept per parameter position, so the same parameter list must be passed at every step.
/// </summary>
public interface IOptimizer
{
    /// <summary>Steps taken so far.</summary>
    long Steps { get; }

    void Step(IReadOnlyList<Parameter<float>> parameters, float learningRate);

    /// <summary>Everything the optimizer remembers (for checkpoints): its step count and its per-parameter slots.</summary>
    OptimizerState ExportState();

    /// <summary>Restores <see cref="ExportState"/>'s output; the slots must fit the parameters.</summary>
    void ImportState(OptimizerState state, IReadOnlyList<Parameter<float>> parameters);

    /// <summary>Sets every gradient to zero.</summary>
    static void ZeroGrad(IReadOnlyList<Parameter<float>> parameters)
    {
        foreach (var p in parameters) p.Gradient.Clear();
    }
}

/// <summary>An optimizer's memory: its kind, steps taken, and per-parameter slot arrays (e.g. Adam's m then v).</summary>
public sealed record OptimizerState(string Kind, long Steps, float[][] Slots)
{
    /// <summary>Checks kind and slot sizes against the parameters; the message names what differs.</summary>
    public void RequireFits(string kind, int slotsPerParameter, IReadOnlyList<Parameter<float>> parameters)
    {
        if (Kind != kind) throw new InvalidDataException($"optimizer state is for '{Kind}', the run uses '{kind}'.");
        if (Slots.Length == 0) return;
        if (Slots.Length != slotsPerParameter * parameters.Count)
            throw new InvalidDataException($"optimizer state has {Slots.Length} slots, expected {slotsPerParameter * parameters.Count}.");
        for (int i = 0; i < Slots.Length; i++)
            if (Slots[i].Length != parameters[i % parameters.Count].Count)
                throw new InvalidDataException($"optimizer slot {i} has {Slots[i].Length} values, parameter {parameters[i % parameters.Count].Name} has {parameters[i % parameters.Count].Count}.");
    }
}
