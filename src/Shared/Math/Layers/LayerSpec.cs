namespace Distributed.Shared.Layers;

/// <summary>
/// One layer of a model as data: its kind and sizes, what travels in a Welcome and what
/// <see cref="ModelDescription"/> builds from. A new layer type adds a case here and in
/// <see cref="ModelDescription.Build{T}"/> (and its wire code in the protocol codec).
/// </summary>
public abstract record LayerSpec
{
    /// <summary>A fully connected layer y = x·W + b with <paramref name="Outputs"/> outputs (its inputs are the previous layer's outputs).</summary>
    public sealed record Dense(int Outputs) : LayerSpec
    {
        public override string ToString() => $"dense {Outputs}";
    }

    /// <summary>y = max(x, 0), element-wise.</summary>
    public sealed record Relu : LayerSpec
    {
        public override string ToString() => "relu";
    }
}
