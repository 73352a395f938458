using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Layers;

/// <summary>
/// One layer of a model as data: its kind and sizes, what a <see cref="ModelDescription"/> lists,
/// what travels in a Welcome (as <see cref="Token"/>s) and what model files record. Each kind knows
/// the shape of its output, its parameter count and how to build its layer, so nothing else switches
/// on kinds. Shapes are <see cref="ImageShape"/>s; a flat vector of n values is n×1×1, and a dense
/// layer takes any shape as its flat CHW vector. A new layer type is a case here plus its entry in
/// <see cref="Parse"/> (and, to be exported, a case in the ONNX exporter).
/// </summary>
public abstract record LayerSpec
{
    /// <summary>The layer in the model-description syntax, e.g. <c>dense256</c> or <c>conv32k3</c>.</summary>
    public abstract string Token { get; }

    /// <summary>Shape of one sample's output for an input of shape <paramref name="input"/>; an ArgumentException when the layer cannot take it.</summary>
    public abstract ImageShape OutputShape(ImageShape input);

    /// <summary>Trainable values for an input of shape <paramref name="input"/>.</summary>
    public virtual long ParameterCount(ImageShape input) => 0;

    /// <summary>The layer, its parameters named <c>{name}.weight</c> etc., initialised in order from <paramref name="rng"/>.</summary>
    public abstract ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng) where T : struct, IFloatingPointIeee754<T>;

    public sealed override string ToString() => Token;

    /// <summary>A fully connected layer y = x·W + b with <paramref name="Outputs"/> outputs (its inputs are the previous layer's outputs, flattened).</summary>
    public sealed record Dense(int Outputs) : LayerSpec
    {
        public override string Token => $"dense{Outputs}";

        public override ImageShape OutputShape(ImageShape input) => Flat(Outputs);

        // W: inputs×outputs, b: outputs
        public override long ParameterCount(ImageShape input) => (long)input.Size * Outputs + Outputs;

        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng)
        {
            var dense = new Dense<T>(input.Size, Outputs, name);
            dense.InitializeHe(rng);
            return dense;
        }
    }

    /// <summary>y = max(x, 0), element-wise.</summary>
    public sealed record Relu : LayerSpec
    {
        public override string Token => "relu";

        public override ImageShape OutputShape(ImageShape input) => input;

        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng) => new Relu<T>();
    }

    /// <summary>A 2-D convolution with <paramref name="Outputs"/> channels, a square kernel, stride and zero padding: <c>conv32k3</c>, <c>conv6k5p2</c>, <c>conv8k3s2p1</c>.</summary>
    public sealed record Conv(int Outputs, int Kernel, int Stride = 1, int Padding = 0) : LayerSpec
    {
        public override string Token => $"conv{Outputs}k{Kernel}" + (Stride != 1 ? $"s{Stride}" : "") + (Padding != 0 ? $"p{Padding}" : "");

        public override ImageShape OutputShape(ImageShape input)
        {
            var g = new ConvGeometry(input, Kernel, Stride, Padding);
            return new ImageShape(Outputs, g.OutputHeight, g.OutputWidth);
        }

        // W: outputs × channels × k × k, b: outputs
        public override long ParameterCount(ImageShape input) => (long)Outputs * input.Channels * Kernel * Kernel + Outputs;

        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng)
        {
            var conv = new Conv2d<T>(input, Outputs, Kernel, Stride, Padding, name);
            conv.InitializeHe(rng);
            return conv;
        }
    }

    /// <summary>Max pooling over non-overlapping <paramref name="Kernel"/>×<paramref name="Kernel"/> windows: <c>maxpool2</c>.</summary>
    public sealed record MaxPool(int Kernel) : LayerSpec
    {
        public override string Token => $"maxpool{Kernel}";

        public override ImageShape OutputShape(ImageShape input) => new MaxPool2d<float>(input, Kernel).OutputShape;

        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng) => new MaxPool2d<T>(input, Kernel);
    }

    /// <summary>An image as its flat CHW vector (moves nothing; keeps PyTorch's layer positions): <c>flatten</c>.</summary>
    public sealed record Flatten : LayerSpec
    {
        public override string Token => "flatten";

        public override ImageShape OutputShape(ImageShape input) => Flat(input.Size);

        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng) => new Flatten<T>();
    }

    /// <summary>Inverted dropout with rate <paramref name="Rate"/> in training, identity in inference: <c>dropout0.25</c>.</summary>
    public sealed record Dropout(double Rate) : LayerSpec
    {
        public override string Token => $"dropout{Rate.ToString("R", CultureInfo.InvariantCulture)}";

        public override ImageShape OutputShape(ImageShape input) => input;

        // The salt is the layer's name (its position), so two dropout layers draw different masks.
        public override ILayer<T> Build<T>(ImageShape input, string name, SeededRandom rng) => new Dropout<T>(Rate, SeededRandom.Fnv1a(name));
    }

    /// <summary>A flat vector of <paramref name="values"/> values.</summary>
    public static ImageShape Flat(int values) => new(values, 1, 1);

    /// <summary>Largest width a dense layer, or channel count a convolution, may give: keeps products of sizes far from overflow.</summary>
    public const int MaxWidth = 16_384;

    /// <summary>Largest kernel of a convolution or a pool.</summary>
    public const int MaxKernel = 64;

    /// <summary>
    /// One token of the syntax: <c>dense&lt;outputs&gt;</c>, <c>relu</c>,
    /// <c>conv&lt;channels&gt;k&lt;kernel&gt;[s&lt;stride&gt;][p&lt;padding&gt;]</c>, <c>maxpool&lt;kernel&gt;</c>,
    /// <c>flatten</c> or <c>dropout&lt;rate&gt;</c>. The one table of layer kinds by name: the CLI,
    /// Welcome messages and model files all read layers through it.
    /// </summary>
    public static LayerSpec Parse(string token)
    {
        string t = token.Trim().ToLowerInvariant();
        if (t == "relu") return new Relu();
        if (t == "flatten") return new Flatten();
        if (t.StartsWith("dense", StringComparison.Ordinal))
            return TryCount(t.AsSpan(5), MaxWidth, out int n) ? new Dense(n)
                : throw new FormatException($"'{token.Trim()}': dense takes a width in 1–{MaxWidth:N0}, e.g. dense128.");
        if (t.StartsWith("conv", StringComparison.Ordinal))
            return ParseConv(t) ?? throw new FormatException($"'{token.Trim()}': a convolution is conv<channels>k<kernel>, optionally followed by s<stride> and p<padding>, " +
                $"e.g. conv32k3 or conv6k5p2 (channels 1–{MaxWidth:N0}, kernel and stride 1–{MaxKernel}, padding 0–{MaxKernel - 1} and less than the kernel).");
        if (t.StartsWith("maxpool", StringComparison.Ordinal))
            return TryCount(t.AsSpan(7), MaxKernel, out int k) ? new MaxPool(k)
                : throw new FormatException($"'{token.Trim()}': maxpool takes a window size in 1–{MaxKernel}, e.g. maxpool2.");
        if (t.StartsWith("dropout", StringComparison.Ordinal))
            return double.TryParse(t.AsSpan(7), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double p) && p is >= 0 and < 1 ? new Dropout(p)
                : throw new FormatException($"'{token.Trim()}': dropout takes a rate in [0, 1), e.g. dropout0.25.");
        throw new FormatException($"'{token.Trim()}' is not a layer; the layers are dense<width> (e.g. dense128), relu, conv<channels>k<kernel> (e.g. conv32k3, conv6k5p2), " +
            "maxpool<size> (e.g. maxpool2), flatten and dropout<rate> (e.g. dropout0.5).");
    }

    // conv<channels>k<kernel>[s<stride>][p<padding>]
    private static Conv? ParseConv(string t)
    {
        var m = Regex.Match(t, @"^conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$", RegexOptions.CultureInvariant);
        if (!m.Success) return null;
        int Group(int i, int otherwise) => m.Groups[i].Success ? (int.TryParse(m.Groups[i].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : -1) : otherwise;
        var (channels, kernel, stride, padding) = (Group(1, -1), Group(2, -1), Group(3, 1), Group(4, 0));
        bool valid = channels is >= 1 and <= MaxWidth && kernel is >= 1 and <= MaxKernel && stride is >= 1 and <= MaxKernel && padding >= 0 && padding < kernel;
        return valid ? new Conv(channels, kernel, stride, padding) : null;
    }

    private static bool TryCount(ReadOnlySpan<char> digits, int max, out int n) =>
        int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out n) && n >= 1 && n <= max;
}
