using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>A trainable value and the gradient of the loss with respect to it (same shape).</summary>
public sealed class Parameter<T> where T : struct, IFloatingPointIeee754<T>
{
    /// <param name="shape">
    /// The tensor's shape in model files (row-major, PyTorch's layout: [outputs, inputs] for a dense
    /// weight, whose column-major inputs×outputs storage is exactly that). Default: [columns] for a
    /// row vector, else [columns, rows].
    /// </param>
    public Parameter(string name, Matrix<T> value, int[]? shape = null)
    {
        Name = name;
        Value = value;
        Gradient = Matrix<T>.Build.Dense(value.RowCount, value.ColumnCount);
        Shape = shape ?? (value.RowCount == 1 ? [value.ColumnCount] : [value.ColumnCount, value.RowCount]);
        if (Shape.Aggregate(1L, (a, d) => a * d) != Count)
            throw new ArgumentException($"{name}: shape [{string.Join(", ", Shape)}] does not hold {Count} values.", nameof(shape));
    }

    /// <summary>A parameter with the same value matrix (shared, not copied) and a gradient of its own.</summary>
    public Parameter<T> SharingValue() => new(Name, Value, Shape);

    /// <summary>Shape in model files (safetensors, ONNX), row-major.</summary>
    public int[] Shape { get; }

    /// <summary>Dotted name, e.g. <c>layers.0.weight</c> (the name it has in model files).</summary>
    public string Name { get; }

    public Matrix<T> Value { get; }

    public Matrix<T> Gradient { get; }

    public int Count => Value.RowCount * Value.ColumnCount;
}
