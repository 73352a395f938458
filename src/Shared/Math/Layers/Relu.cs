using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;
using Vector = System.Numerics.Vector;

namespace Distributed.Shared.Layers;

/// <summary>Rectifier, y = max(x, 0); dx = g ⊙ [x &gt; 0].</summary>
/// <remarks>
/// Branch-free and vectorised: on real activations the sign is a coin flip, and a branch per element
/// mispredicted often enough to cost ~0.2 ms of a 1.6 ms training step (measured).
/// </remarks>
public sealed class Relu<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _output, _inputGradient;

    public IReadOnlyList<Parameter<T>> Parameters { get; } = [];

    public ILayer<T> ReplicaSharingValues() => new Relu<T>();

    // y = max(x, 0)
    public Matrix<T> Forward(Matrix<T> input)
    {
        var y = MatrixStorage.Reuse(ref _output, input.RowCount, input.ColumnCount);
        Span<T> x = input.Values(), yv = y.Values();
        int i = 0;
        for (; i <= x.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
            Vector.Max(new System.Numerics.Vector<T>(x[i..]), System.Numerics.Vector<T>.Zero).CopyTo(yv[i..]);
        for (; i < x.Length; i++) yv[i] = T.Max(x[i], T.Zero);
        return y;
    }

    // dx = g ⊙ [x > 0], read from the cached output: y > 0 exactly where x > 0.
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        if (!needInputGradient) return null;
        Span<T> y = (_output ?? throw new InvalidOperationException("Relu: Backward before Forward.")).Values();
        var dx = MatrixStorage.Reuse(ref _inputGradient, outputGradient.RowCount, outputGradient.ColumnCount);
        Span<T> g = outputGradient.Values(), d = dx.Values();
        int i = 0;
        for (; i <= g.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
            Vector.ConditionalSelect(Vector.GreaterThan(new System.Numerics.Vector<T>(y[i..]), System.Numerics.Vector<T>.Zero), new System.Numerics.Vector<T>(g[i..]), System.Numerics.Vector<T>.Zero).CopyTo(d[i..]);
        for (; i < g.Length; i++) d[i] = y[i] > T.Zero ? g[i] : T.Zero;
        return dx;
    }
}
