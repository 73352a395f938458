using System.Numerics;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Optimizers;

/// <summary>
/// Adam with decoupled weight decay (AdamW):
/// m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − η·(m̂ / (√v̂ + ε) + λw),
/// with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
/// </summary>
public sealed class Adam(float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f) : IOptimizer
{
    private float[][]? _m, _v;

    public long Steps { get; private set; }

    public OptimizerState ExportState() =>
        new("adam", Steps, _m is null ? [] : [.. _m.Select(a => a.ToArray()), .. _v!.Select(a => a.ToArray())]);

    public void ImportState(OptimizerState state, IReadOnlyList<Parameter<float>> parameters)
    {
        state.RequireFits("adam", 2, parameters);
        Steps = state.Steps;
        if (state.Slots.Length == 0)
        {
            (_m, _v) = (null, null);
            return;
        }
        _m = state.Slots.Take(parameters.Count).Select(a => a.ToArray()).ToArray();
        _v = state.Slots.Skip(parameters.Count).Select(a => a.ToArray()).ToArray();
    }

    public void Step(IReadOnlyList<Parameter<float>> parameters, float learningRate)
    {
        _m ??= parameters.Select(p => new float[p.Count]).ToArray();
        _v ??= parameters.Select(p => new float[p.Count]).ToArray();
        Steps++;
        // Bias corrections once per step, in double, then rounded once.
        float correction1 = (float)(1 - Math.Pow(beta1, Steps));
        float correction2 = (float)(1 - Math.Pow(beta2, Steps));
        var (m, v) = (_m, _v);
        // Element-wise, so the parameters' pieces can be updated on every core with the same bits.
        ParameterChunks.For(parameters, (i, start, length) => Update(parameters[i].Value.Values().AsSpan(start, length), parameters[i].Gradient.Values().AsSpan(start, length),
            m[i].AsSpan(start, length), v[i].AsSpan(start, length), learningRate, correction1, correction2));
    }

    // Vector lanes and the scalar tail do the same IEEE operations in the same order, so the
    // result does not depend on the vector width.
    private void Update(Span<float> w, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, float lr, float c1, float c2)
    {
        var (b1, b2, ob1, ob2) = (new Vector<float>(beta1), new Vector<float>(beta2), new Vector<float>(1 - beta1), new Vector<float>(1 - beta2));
        var (vc1, vc2, veps, vlr, vwd) = (new Vector<float>(c1), new Vector<float>(c2), new Vector<float>(epsilon), new Vector<float>(lr), new Vector<float>(weightDecay));
        int k = 0;
        for (; k <= w.Length - Vector<float>.Count; k += Vector<float>.Count)
        {
            var g = new Vector<float>(gradient[k..]);
            var mk = b1 * new Vector<float>(m[k..]) + ob1 * g;
            var vk = b2 * new Vector<float>(v[k..]) + ob2 * g * g;
            var wk = new Vector<float>(w[k..]);
            wk -= vlr * (mk / vc1 / (Vector.SquareRoot(vk / vc2) + veps) + vwd * wk);
            mk.CopyTo(m[k..]);
            vk.CopyTo(v[k..]);
            wk.CopyTo(w[k..]);
        }
        for (; k < w.Length; k++)
        {
            float g = gradient[k];
            m[k] = beta1 * m[k] + (1 - beta1) * g;
            v[k] = beta2 * v[k] + (1 - beta2) * g * g;
            w[k] -= lr * (m[k] / c1 / (MathF.Sqrt(v[k] / c2) + epsilon) + weightDecay * w[k]);
        }
    }
}
