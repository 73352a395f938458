using System.Numerics;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>
/// A model as data: its input width and an ordered list of layer specs. Training, the Welcome a
/// worker gets, the worker's replica, model files, ONNX export and the report are built from it, so
/// no node assumes an MLP; the MLP of <c>--hidden</c> is one preset (<see cref="Mlp(int, IReadOnlyList{int}, int)"/>).
/// As text (<see cref="Layers"/> joined, see <see cref="Parse"/>): <c>dense256,relu,dense128,relu,dense10</c>.
/// </summary>
public sealed record ModelDescription(int Inputs, IReadOnlyList<LayerSpec> Layers)
{
    /// <summary>(Dense → ReLU)* → Dense producing <paramref name="classes"/> logits.</summary>
    public static ModelDescription Mlp(int inputs, IReadOnlyList<int> hidden, int classes) =>
        new(inputs, [.. hidden.SelectMany(h => new LayerSpec[] { new LayerSpec.Dense(h), new LayerSpec.Relu() }), new LayerSpec.Dense(classes)]);

    /// <summary>
    /// Layers from the model-description syntax: tokens (see <see cref="LayerSpec.Parse"/>) separated
    /// by commas. A bad token, or an empty list, is a <see cref="FormatException"/> naming it.
    /// </summary>
    public static ModelDescription Parse(int inputs, string layers)
    {
        var tokens = layers.Split(',', StringSplitOptions.TrimEntries);
        if (tokens.Length == 0 || tokens.Any(t => t.Length == 0))
            throw new FormatException($"'{layers}' has an empty layer; list layers separated by commas, e.g. dense128,relu,dense10.");
        return new ModelDescription(inputs, tokens.Select(LayerSpec.Parse).ToArray());
    }

    /// <summary>The layers in the syntax <see cref="Parse"/> reads.</summary>
    public string LayersText => string.Join(',', Layers.Select(l => l.Token));

    /// <summary>Width of the last layer's output.</summary>
    public int Outputs => Widths().Last();

    /// <summary>Parameters of the built model (weights and biases), in 64 bits.</summary>
    public long ParameterCount => Layers.Zip(Widths()).Sum(p => p.First.ParameterCount(p.Second));

    /// <summary>
    /// The layers, named <c>layers.{i}</c> by position (so names match a PyTorch nn.Sequential),
    /// initialised in order from <paramref name="seed"/>.
    /// </summary>
    public Sequential<T> Build<T>(int seed) where T : struct, IFloatingPointIeee754<T>
    {
        var rng = SeededRandom.For(seed, "init");
        return new Sequential<T>(Layers.Zip(Widths()).Select((p, i) => p.First.Build<T>(p.Second, $"layers.{i}", rng)).ToList());
    }

    /// <summary>An MLP's shape as 784-256-128-10; any other model as its input width and layers.</summary>
    public override string ToString()
    {
        var dense = Layers.OfType<LayerSpec.Dense>().Select(d => d.Outputs).ToArray();
        bool mlp = dense.Length > 0 && Equals(Mlp(Inputs, dense[..^1], dense[^1]));
        return mlp ? string.Join('-', dense.Prepend(Inputs)) : $"{Inputs} → {string.Join(" → ", Layers)}";
    }

    public bool Equals(ModelDescription? other) => other is not null && Inputs == other.Inputs && Layers.SequenceEqual(other.Layers);

    public override int GetHashCode() => HashCode.Combine(Inputs, Layers.Count);

    /// <summary>Each layer's input width, in order (the input, then every layer's output but the last's).</summary>
    private IEnumerable<int> Widths()
    {
        int width = Inputs;
        foreach (var layer in Layers)
        {
            yield return width;
            width = layer.OutputWidth(width);
        }
        yield return width;
    }
}
