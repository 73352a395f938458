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

    /// <summary>Sets every gradient to zero.</summary>
    static void ZeroGrad(IReadOnlyList<Parameter<float>> parameters)
    {
        foreach (var p in parameters) p.Gradient.Clear();
    }
}
