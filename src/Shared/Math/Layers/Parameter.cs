using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>A trainable value and the gradient of the loss with respect to it (same shape).</summary>
public sealed class Parameter<T> where T : struct, IFloatingPointIeee754<T>
{
    public Parameter(string name, Matrix<T> value)
    {
        Name = name;
        Value = value;
        Gradient = Matrix<T>.Build.Dense(value.RowCount, value.ColumnCount);
    }

    /// <summary>A parameter with the same value matrix (shared, not copied) and a gradient of its own.</summary>
    public Parameter<T> SharingValue() => new(Name, Value);

    /// <summary>Dotted name, e.g. <c>layers.0.weight</c> (the name it has in model files).</summary>
    public string Name { get; }

    public Matrix<T> Value { get; }

    public Matrix<T> Gradient { get; }

    public int Count => Value.RowCount * Value.ColumnCount;
}
