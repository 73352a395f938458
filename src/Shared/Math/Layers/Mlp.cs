using System.Numerics;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>Builds the multilayer perceptron the trainer uses: (Dense → ReLU)* → Dense producing logits.</summary>
public static class Mlp
{
    /// <summary>
    /// Dense layers named <c>layers.{i}</c> (i counts every layer, so names match a PyTorch
    /// nn.Sequential of Linear and ReLU), He-initialised from <paramref name="seed"/>.
    /// </summary>
    public static Sequential<T> Create<T>(int inputs, IReadOnlyList<int> hidden, int outputs, int seed)
        where T : struct, IFloatingPointIeee754<T>
    {
        var rng = SeededRandom.For(seed, "init");
        var layers = new List<ILayer<T>>();
        int width = inputs;
        foreach (int h in hidden.Append(outputs))
        {
            var dense = new Dense<T>(width, h, $"layers.{layers.Count}");
            dense.InitializeHe(rng);
            layers.Add(dense);
            if (layers.Count < 2 * hidden.Count + 1) layers.Add(new Relu<T>());
            width = h;
        }
        return new Sequential<T>(layers);
    }

    /// <summary>Shape as text, e.g. 784-256-128-10.</summary>
    public static string Describe(int inputs, IReadOnlyList<int> hidden, int outputs) =>
        string.Join('-', hidden.Prepend(inputs).Append(outputs));
}
