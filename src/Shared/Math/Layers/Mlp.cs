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
}
