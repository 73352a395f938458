using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>Rectifier, y = max(x, 0); dx = g ⊙ [x &gt; 0].</summary>
public sealed class Relu<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _output, _inputGradient;

    public IReadOnlyList<Parameter<T>> Parameters { get; } = [];

    public ILayer<T> ReplicaSharingValues() => new Relu<T>();

    // y = max(x, 0)
    public Matrix<T> Forward(Matrix<T> input)
    {
        var y = MatrixStorage.Reuse(ref _output, input.RowCount, input.ColumnCount);
        var x = input.Values();
        var yv = y.Values();
        for (int i = 0; i < x.Length; i++) yv[i] = x[i] > T.Zero ? x[i] : T.Zero;
        return y;
    }

    // dx = g ⊙ [x > 0], read from the cached output: y > 0 exactly where x > 0.
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true)
    {
        if (!needInputGradient) return null;
        var y = (_output ?? throw new InvalidOperationException("Relu: Backward before Forward.")).Values();
        var dx = MatrixStorage.Reuse(ref _inputGradient, outputGradient.RowCount, outputGradient.ColumnCount);
        var g = outputGradient.Values();
        var d = dx.Values();
        for (int i = 0; i < g.Length; i++) d[i] = y[i] > T.Zero ? g[i] : T.Zero;
        return dx;
    }
}
