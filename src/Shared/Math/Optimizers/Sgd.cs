using System.Numerics;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Optimizers;

/// <summary>
/// SGD with momentum (PyTorch's convention) and L2 weight decay:
/// g ← g + λw;  v ← μv + g;  w ← w − η·(Nesterov ? g + μv : v).
/// </summary>
public sealed class Sgd(float momentum = 0.9f, bool nesterov = false, float weightDecay = 0f) : IOptimizer
{
    private float[][]? _velocity;

    public long Steps { get; private set; }

    public OptimizerState ExportState() => new(Kind, Steps, _velocity?.Select(v => v.ToArray()).ToArray() ?? []);

    public void ImportState(OptimizerState state, IReadOnlyList<Parameter<float>> parameters)
    {
        state.RequireFits(Kind, 1, parameters);
        Steps = state.Steps;
        _velocity = state.Slots.Length == 0 ? null : state.Slots.Select(v => v.ToArray()).ToArray();
    }

    private string Kind => nesterov ? "nesterov" : "sgd";

    public void Step(IReadOnlyList<Parameter<float>> parameters, float learningRate)
    {
        var velocity = _velocity ??= parameters.Select(p => new float[p.Count]).ToArray();
        ParameterChunks.For(parameters, (i, start, length) => Update(parameters[i].Value.Values().AsSpan(start, length),
            parameters[i].Gradient.Values().AsSpan(start, length), velocity[i].AsSpan(start, length), learningRate));
        Steps++;
    }

    // Vector lanes and the scalar tail do the same IEEE operations in the same order.
    private void Update(Span<float> w, ReadOnlySpan<float> gradient, Span<float> v, float lr)
    {
        var (mu, vlr, wd) = (new Vector<float>(momentum), new Vector<float>(lr), new Vector<float>(weightDecay));
        int k = 0;
        for (; k <= w.Length - Vector<float>.Count; k += Vector<float>.Count)
        {
            var wk = new Vector<float>(w[k..]);
            var g = new Vector<float>(gradient[k..]) + wd * wk;
            var vk = mu * new Vector<float>(v[k..]) + g;
            wk -= vlr * (nesterov ? g + mu * vk : vk);
            vk.CopyTo(v[k..]);
            wk.CopyTo(w[k..]);
        }
        for (; k < w.Length; k++)
        {
            float g = gradient[k] + weightDecay * w[k];
            v[k] = momentum * v[k] + g;
            w[k] -= lr * (nesterov ? g + momentum * v[k] : v[k]);
        }
    }
}
