using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// Row-wise softmax as its own node: s_ij = exp(x_ij − m_i) / Σ_k exp(x_ik − m_i), m_i = max_k x_ik.
/// Its Jacobian is per row (diag(s_i) − s_i s_iᵀ), so the vector–Jacobian product is
/// dx = s ⊙ (g − rowsum(g ⊙ s)); not s ⊙ (I − s) with an identity over the batch.
/// </summary>
public sealed class Softmax<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _output, _inputGradient;
    private T[] _rowScratch = [];

    public IReadOnlyList<Parameter<T>> Parameters { get; } = [];

    public ILayer<T> ReplicaSharingValues() => new Softmax<T>();

    public Matrix<T> Forward(Matrix<T> input)
    {
        var s = MatrixStorage.Reuse(ref _output, input.RowCount, input.ColumnCount);
        Rows.Softmax(input, s, Scratch(input.RowCount));
        return s;
    }

    // dx = s ⊙ (g − rowsum(g ⊙ s))
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        if (!needInputGradient) return null;
        var s = _output ?? throw new InvalidOperationException("Softmax: Backward before Forward.");
        int n = s.RowCount, c = s.ColumnCount;
        var dx = MatrixStorage.Reuse(ref _inputGradient, n, c);
        var sv = s.Values();
        var g = outputGradient.Values();
        var d = dx.Values();
        var dot = Scratch(n);
        dot.Clear();
        for (int j = 0; j < c; j++)
            for (int i = 0; i < n; i++) dot[i] += g[j * n + i] * sv[j * n + i];
        for (int j = 0; j < c; j++)
            for (int i = 0; i < n; i++) d[j * n + i] = sv[j * n + i] * (g[j * n + i] - dot[i]);
        return dx;
    }

    private Span<T> Scratch(int n)
    {
        if (_rowScratch.Length < n) _rowScratch = new T[n];
        return _rowScratch.AsSpan(0, n);
    }
}
