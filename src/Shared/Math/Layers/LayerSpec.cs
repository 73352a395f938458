using System.Numerics;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>
/// One layer of a model as data: its kind and sizes, what a <see cref="ModelDescription"/> lists,
/// what travels in a Welcome (as <see cref="Token"/>s) and what model files record. Each kind knows
/// its output width, its parameter count and how to build its layer, so nothing else switches on
/// kinds. A new layer type is a case here plus its entry in <see cref="Parse"/> (and, to be exported,
/// a case in the ONNX exporter).
/// </summary>
public abstract record LayerSpec
{
    /// <summary>The layer in the model-description syntax, e.g. <c>dense256</c> or <c>relu</c>.</summary>
    public abstract string Token { get; }

    /// <summary>Width of the output for an input of <paramref name="inputs"/> values per sample.</summary>
    public abstract int OutputWidth(int inputs);

    /// <summary>Trainable values for an input of <paramref name="inputs"/> values per sample.</summary>
    public abstract long ParameterCount(int inputs);

    /// <summary>The layer, its parameters named <c>{name}.weight</c> etc., initialised in order from <paramref name="rng"/>.</summary>
    public abstract ILayer<T> Build<T>(int inputs, string name, SeededRandom rng) where T : struct, IFloatingPointIeee754<T>;

    public sealed override string ToString() => Token;

    /// <summary>A fully connected layer y = x·W + b with <paramref name="Outputs"/> outputs (its inputs are the previous layer's outputs).</summary>
    public sealed record Dense(int Outputs) : LayerSpec
    {
        public override string Token => $"dense{Outputs}";

        public override int OutputWidth(int inputs) => Outputs;

        // W: inputs×outputs, b: outputs
        public override long ParameterCount(int inputs) => (long)inputs * Outputs + Outputs;

        public override ILayer<T> Build<T>(int inputs, string name, SeededRandom rng)
        {
            var dense = new Dense<T>(inputs, Outputs, name);
            dense.InitializeHe(rng);
            return dense;
        }
    }

    /// <summary>y = max(x, 0), element-wise.</summary>
    public sealed record Relu : LayerSpec
    {
        public override string Token => "relu";

        public override int OutputWidth(int inputs) => inputs;

        public override long ParameterCount(int inputs) => 0;

        public override ILayer<T> Build<T>(int inputs, string name, SeededRandom rng) => new Relu<T>();
    }

    /// <summary>Largest width a layer may give: keeps every product of sizes far from overflow.</summary>
    public const int MaxWidth = 16_384;

    /// <summary>
    /// One token of the syntax: <c>dense&lt;outputs&gt;</c> or <c>relu</c>. The one table of layer
    /// kinds by name: the CLI, Welcome messages and model files all read layers through it.
    /// </summary>
    public static LayerSpec Parse(string token)
    {
        string t = token.Trim().ToLowerInvariant();
        if (t == "relu") return new Relu();
        if (t.StartsWith("dense", StringComparison.Ordinal))
        {
            if (int.TryParse(t.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxWidth)
                return new Dense(n);
            throw new FormatException($"'{token.Trim()}': dense takes a width in 1–{MaxWidth:N0}, e.g. dense128.");
        }
        throw new FormatException($"'{token.Trim()}' is not a layer; the layers are dense<width> (e.g. dense128) and relu.");
    }
}
