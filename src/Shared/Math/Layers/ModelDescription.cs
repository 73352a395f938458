using System.Numerics;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>
/// A model as data: its input width and an ordered list of layer specs. Training, the Welcome a
/// worker gets and the worker's replica are built from it, so no node assumes an MLP; the MLP of
/// <c>--hidden</c> is one preset (<see cref="Mlp(int, IReadOnlyList{int}, int)"/>).
/// </summary>
public sealed record ModelDescription(int Inputs, IReadOnlyList<LayerSpec> Layers)
{
    /// <summary>(Dense → ReLU)* → Dense producing <paramref name="classes"/> logits.</summary>
    public static ModelDescription Mlp(int inputs, IReadOnlyList<int> hidden, int classes) =>
        new(inputs, [.. hidden.SelectMany(h => new LayerSpec[] { new LayerSpec.Dense(h), new LayerSpec.Relu() }), new LayerSpec.Dense(classes)]);

    /// <summary>Width of the last layer's output.</summary>
    public int Outputs => Widths().Last();

    /// <summary>Parameters of the built model (weights and biases).</summary>
    public long ParameterCount
    {
        get
        {
            long count = 0;
            int width = Inputs;
            foreach (var layer in Layers)
                if (layer is LayerSpec.Dense d)
                {
                    count += (long)width * d.Outputs + d.Outputs; // W: inputs×outputs, b: outputs
                    width = d.Outputs;
                }
            return count;
        }
    }

    /// <summary>
    /// The layers, named <c>layers.{i}</c> by position (so names match a PyTorch nn.Sequential),
    /// dense ones He-initialised in order from <paramref name="seed"/>.
    /// </summary>
    public Sequential<T> Build<T>(int seed) where T : struct, IFloatingPointIeee754<T>
    {
        var rng = SeededRandom.For(seed, "init");
        var layers = new List<ILayer<T>>();
        int width = Inputs;
        foreach (var spec in Layers)
        {
            switch (spec)
            {
                case LayerSpec.Dense d:
                    var dense = new Dense<T>(width, d.Outputs, $"layers.{layers.Count}");
                    dense.InitializeHe(rng);
                    layers.Add(dense);
                    width = d.Outputs;
                    break;
                case LayerSpec.Relu:
                    layers.Add(new Relu<T>());
                    break;
                default:
                    throw new ArgumentException($"Unknown layer spec {spec}.");
            }
        }
        return new Sequential<T>(layers);
    }

    /// <summary>An MLP's shape as 784-256-128-10; any other model as its layers in order.</summary>
    public override string ToString()
    {
        var widths = Widths().ToList();
        bool mlp = Equals(Mlp(Inputs, widths.Skip(1).SkipLast(1).ToArray(), widths[^1]));
        return mlp ? string.Join('-', widths) : $"{Inputs} → {string.Join(" → ", Layers)}";
    }

    public bool Equals(ModelDescription? other) => other is not null && Inputs == other.Inputs && Layers.SequenceEqual(other.Layers);

    public override int GetHashCode() => HashCode.Combine(Inputs, Layers.Count);

    /// <summary>The input width, then each dense layer's output width.</summary>
    private IEnumerable<int> Widths() => Layers.OfType<LayerSpec.Dense>().Select(d => d.Outputs).Prepend(Inputs);
}
