using System.Numerics;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>
/// A model as data: its input width and an ordered list of layer specs. Training, the Welcome a
/// worker gets, the worker's replica, model files, ONNX export and the report are built from it, so
/// no node assumes an MLP; the MLP of <c>--hidden</c> is one preset (<see cref="Mlp(int, IReadOnlyList{int}, int)"/>).
/// As text (<see cref="Layers"/> joined, see <see cref="Parse"/>): <c>dense256,relu,dense128,relu,dense10</c>.
/// The input is <see cref="InputShape"/>: a square count of inputs is a one-channel square image (784 is
/// MNIST's 1×28×28), which is what convolutions and pools see; dense layers see the flat pixels.
/// </summary>
public sealed record ModelDescription
{
    /// <summary>Largest number of values one sample may have between two layers (and of inputs).</summary>
    public const int MaxFeatures = 1 << 20;

    /// <summary>Largest parameter count: the flat parameter vector is indexed by int, and travels in messages.</summary>
    public const long MaxParameters = int.MaxValue;

    /// <summary>The model, checked: every layer must take the shape the layer before it gives; a layer that cannot is a FormatException naming it.</summary>
    public ModelDescription(int Inputs, IReadOnlyList<LayerSpec> Layers)
    {
        if (Inputs is < 1 or > MaxFeatures) throw new FormatException($"a model takes 1–{MaxFeatures:N0} inputs, not {Inputs}.");
        if (Layers.Count == 0) throw new FormatException("a model needs at least one layer.");
        (this.Inputs, this.Layers) = (Inputs, Layers);
        _shapes = ShapesOf(InputShapeFor(Inputs), Layers);
        long parameters = Layers.Select((l, i) => l.ParameterCount(_shapes[i])).Sum();
        if (parameters > MaxParameters) throw new FormatException($"{LayersText} has {parameters:N0} parameters; at most {MaxParameters:N0} are supported.");
        ParameterCount = parameters;
    }

    private readonly ImageShape[] _shapes;

    public int Inputs { get; }

    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>The shape the first layer sees: 1×s×s when <see cref="Inputs"/> = s², else a flat vector.</summary>
    public ImageShape InputShape => _shapes[0];

    /// <summary>Each layer's input shape, in order, then the model's output shape.</summary>
    public IReadOnlyList<ImageShape> Shapes => _shapes;

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
    public int Outputs => _shapes[^1].Size;

    /// <summary>Parameters of the built model (weights and biases), in 64 bits.</summary>
    public long ParameterCount { get; }

    /// <summary>Whether any layer is a convolution or a pool (so the input is read as an image).</summary>
    public bool IsConvolutional => Layers.Any(l => l is LayerSpec.Conv or LayerSpec.MaxPool);

    /// <summary>
    /// The layers, named <c>layers.{i}</c> by position (so names match a PyTorch nn.Sequential),
    /// initialised in order from <paramref name="seed"/>.
    /// </summary>
    public Sequential<T> Build<T>(int seed) where T : struct, IFloatingPointIeee754<T>
    {
        var rng = SeededRandom.For(seed, "init");
        return new Sequential<T>(Layers.Select((layer, i) => layer.Build<T>(_shapes[i], $"layers.{i}", rng)).ToList());
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

    private static ImageShape InputShapeFor(int inputs)
    {
        int side = (int)Math.Round(Math.Sqrt(inputs));
        return side * side == inputs ? new ImageShape(1, side, side) : LayerSpec.Flat(inputs);
    }

    // shapes[i] is layer i's input; shapes[^1] the model's output
    private static ImageShape[] ShapesOf(ImageShape input, IReadOnlyList<LayerSpec> layers)
    {
        var shapes = new ImageShape[layers.Count + 1];
        shapes[0] = input;
        for (int i = 0; i < layers.Count; i++)
        {
            try { shapes[i + 1] = layers[i].OutputShape(shapes[i]); }
            catch (ArgumentException e) { throw new FormatException($"layer {i + 1} ({layers[i]}) cannot take its input of {shapes[i]}: {e.Message}"); }
            if ((long)shapes[i + 1].Channels * shapes[i + 1].Height * shapes[i + 1].Width > MaxFeatures)
                throw new FormatException($"layer {i + 1} ({layers[i]}) gives {shapes[i + 1]} values per sample; at most {MaxFeatures:N0} are supported.");
        }
        return shapes;
    }
}
