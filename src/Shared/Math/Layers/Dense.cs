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

    // dW = Σ_s X_sᵀ·dZ_s. In row-major terms of the column-major storage: dWᵀ = dZᵀ·X, with the k-loop
    // (over the batch's rows) restarted at every segment boundary.
    private void SegmentedWeightGradient(Matrix<T> x, Matrix<T> dz, int[] segments)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException("Segmented gradients are implemented for float32 training.");
        int n = x.RowCount;
        Gemm.Multiply(false, true, Outputs, Inputs, n, 1f, (float[])(object)dz.Values(), 0, n, (float[])(object)x.Values(), 0, n,
            0f, (float[])(object)Weight.Gradient.Values(), 0, Inputs, segments);
    }

    // Σ_i g_i in a fixed order: lane-wise partial sums over the column, then the lanes in order.
    private static T ColumnSum(ReadOnlySpan<T> column)
    {
        var partial = System.Numerics.Vector<T>.Zero;
        int i = 0;
        for (; i <= column.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
            partial += new System.Numerics.Vector<T>(column[i..]);
        T sum = T.Zero;
        for (int lane = 0; lane < System.Numerics.Vector<T>.Count; lane++) sum += partial[lane];
        for (; i < column.Length; i++) sum += column[i];
        return sum;
    }

    // dW = Xᵀ·dZ,  db = 1ᵀ·dZ (column sums),  dX = dZ·Wᵀ
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, int[]? segments = null)
    {
        var x = _input ?? throw new InvalidOperationException($"{Weight.Name}: Backward before Forward.");
        var db = Bias.Gradient.Values();
        if (segments is null)
        {
            x.TransposeThisAndMultiply(outputGradient, Weight.Gradient);
            for (int j = 0; j < Outputs; j++) db[j] = ColumnSum(outputGradient.ColumnSpan(j));
        }
        else
        {
            SegmentedWeightGradient(x, outputGradient, segments);
            // db = Σ_s (1ᵀ·dZ_s), segment sums added in order
            for (int j = 0; j < Outputs; j++)
            {
                var column = outputGradient.ColumnSpan(j);
                T sum = ColumnSum(column[segments[0]..segments[1]]);
                for (int s = 1; s + 1 < segments.Length; s++) sum += ColumnSum(column[segments[s]..segments[s + 1]]);
                db[j] = sum;
            }
        }
        if (!needInputGradient) return null;
        var dx = MatrixStorage.Reuse(ref _inputGradient, outputGradient.RowCount, Inputs);
        outputGradient.TransposeAndMultiply(Weight.Value, dx);
        return dx;
    }
}
