using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// Fully connected layer, Z = X·W + 1·b, with W of shape inputs×outputs and b of shape 1×outputs.
/// W's column-major storage is the row-major outputs×inputs matrix, i.e. PyTorch's Linear.weight layout.
/// </summary>
public sealed class Dense<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _input, _output, _inputGradient;

    public Dense(int inputs, int outputs, string name = "dense")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        Weight = new Parameter<T>($"{name}.weight", Matrix<T>.Build.Dense(inputs, outputs), [outputs, inputs]);
        Bias = new Parameter<T>($"{name}.bias", Matrix<T>.Build.Dense(1, outputs), [outputs]);
        Parameters = [Weight, Bias];
    }

    private Dense(Parameter<T> weight, Parameter<T> bias)
    {
        (Weight, Bias) = (weight, bias);
        Parameters = [Weight, Bias];
    }

    public ILayer<T> ReplicaSharingValues() => new Dense<T>(Weight.SharingValue(), Bias.SharingValue());

    public Parameter<T> Weight { get; }

    public Parameter<T> Bias { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; }

    public int Inputs => Weight.Value.RowCount;

    public int Outputs => Weight.Value.ColumnCount;

    /// <summary>He initialisation for ReLU networks: W ~ N(0, 2/inputs), b = 0.</summary>
    public void InitializeHe(SeededRandom rng)
    {
        double std = Math.Sqrt(2.0 / Inputs);
        var w = Weight.Value.Values();
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating(rng.NextGaussian() * std);
        Bias.Value.Clear();
    }

    // Z = X·W + 1·b
    public Matrix<T> Forward(Matrix<T> input)
    {
        if (input.ColumnCount != Inputs)
            throw new ArgumentException($"{Weight.Name}: input has {input.ColumnCount} columns, expected {Inputs}.");
        _input = input;
        var z = MatrixStorage.Reuse(ref _output, input.RowCount, Outputs);
        input.Multiply(Weight.Value, z);
        var b = Bias.Value.Values();
        for (int j = 0; j < Outputs; j++)
        {
            var column = z.ColumnSpan(j);
            for (int i = 0; i < column.Length; i++) column[i] += b[j];
        }
        return z;
    }

    // dW = Xᵀ·dZ,  db = 1ᵀ·dZ (sums over rows, grouped as the sink says),  dX = dZ·Wᵀ
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        var x = _input ?? throw new InvalidOperationException($"{Weight.Name}: Backward before Forward.");
        gradients ??= GradientSink<T>.WholeBatch;
        gradients.RowProducts(Weight, x, outputGradient);
        gradients.RowSums(Bias, outputGradient);
        if (!needInputGradient) return null;
        var dx = MatrixStorage.Reuse(ref _inputGradient, outputGradient.RowCount, Inputs);
        outputGradient.TransposeAndMultiply(Weight.Value, dx);
        return dx;
    }
}
