using System.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>The MLP preset the trainer uses by default: (Dense → ReLU)* → Dense producing logits (see <see cref="ModelDescription.Mlp"/>).</summary>
public static class Mlp
{
    /// <summary>
    /// Dense layers named <c>layers.{i}</c> (i counts every layer, so names match a PyTorch
    /// nn.Sequential of Linear and ReLU), He-initialised from <paramref name="seed"/>.
    /// </summary>
    public static Sequential<T> Create<T>(int inputs, IReadOnlyList<int> hidden, int outputs, int seed)
        where T : struct, IFloatingPointIeee754<T> => ModelDescription.Mlp(inputs, hidden, outputs).Build<T>(seed);

    /// <summary>Shape as text, e.g. 784-256-128-10.</summary>
    public static string Describe(int inputs, IReadOnlyList<int> hidden, int outputs) =>
        string.Join('-', hidden.Prepend(inputs).Append(outputs));
}
