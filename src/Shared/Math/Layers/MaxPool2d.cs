using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// Max pooling over non-overlapping <c>K×K</c> windows (stride K, no padding: PyTorch's
/// <c>MaxPool2d(K)</c>, output ⌊H/K⌋ × ⌊W/K⌋) on NCHW rows. The position of each maximum is stored
/// in the forward pass; on a tie the first in scan order (row by row) wins, so the gradient goes to
/// one fixed input whatever computes the sample.
/// </summary>
public sealed class MaxPool2d<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _output, _inputGradient;
    private int[] _argmax = [];
    private int _images;

    public MaxPool2d(ImageShape input, int kernel)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        if (input.Height < kernel || input.Width < kernel) throw new ArgumentException($"a {kernel}×{kernel} pool does not fit a {input} input.");
        (Input, Kernel) = (input, kernel);
        OutputShape = new ImageShape(input.Channels, input.Height / kernel, input.Width / kernel);
    }

    public ImageShape Input { get; }

    public int Kernel { get; }

    public ImageShape OutputShape { get; }

    public IReadOnlyList<Parameter<T>> Parameters => [];

    public ILayer<T> ReplicaSharingValues() => new MaxPool2d<T>(Input, Kernel);

    // y[n, c, oy, ox] = max over (ky, kx) of x[n, c, oy·K + ky, ox·K + kx]
    public Matrix<T> Forward(Matrix<T> input)
    {
        if (input.ColumnCount != Input.Size) throw new ArgumentException($"max pool: input has {input.ColumnCount} columns, expected {Input} = {Input.Size}.");
        _images = input.RowCount;
        var y = MatrixStorage.Reuse(ref _output, _images, OutputShape.Size);
        if (_argmax.Length != y.RowCount * y.ColumnCount) _argmax = new int[y.RowCount * y.ColumnCount];
        var (xv, yv) = (input.Values(), y.Values());
        for (int c = 0; c < OutputShape.Channels; c++)
            for (int oy = 0; oy < OutputShape.Height; oy++)
                for (int ox = 0; ox < OutputShape.Width; ox++)
                {
                    // Feature columns are contiguous over the batch: each window tap is compared for all images at once.
                    int output = (c * OutputShape.Height + oy) * OutputShape.Width + ox;
                    Span<T> best = yv.AsSpan(output * _images, _images);
                    Span<int> argmax = _argmax.AsSpan(output * _images, _images);
                    int first = (c * Input.Height + oy * Kernel) * Input.Width + ox * Kernel;
                    xv.AsSpan(first * _images, _images).CopyTo(best);
                    argmax.Fill(first);
                    for (int ky = 0; ky < Kernel; ky++)
                        for (int kx = 0; kx < Kernel; kx++)
                        {
                            int at = (c * Input.Height + oy * Kernel + ky) * Input.Width + ox * Kernel + kx;
                            if (at != first) KeepLarger(xv.AsSpan(at * _images, _images), at, best, argmax);
                        }
                }
        return y;
    }

    // best = max(best, tap), argmax = at where the tap is strictly larger: the first maximum in scan order wins a tie.
    private static void KeepLarger(ReadOnlySpan<T> tap, int at, Span<T> best, Span<int> argmax)
    {
        int i = 0;
        if (typeof(T) == typeof(float) && System.Numerics.Vector.IsHardwareAccelerated)
        {
            ReadOnlySpan<float> t = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(tap);
            Span<float> b = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(best);
            var index = new System.Numerics.Vector<int>(at);
            for (; i <= t.Length - System.Numerics.Vector<float>.Count; i += System.Numerics.Vector<float>.Count)
            {
                var tv = new System.Numerics.Vector<float>(t[i..]);
                var bv = new System.Numerics.Vector<float>(b[i..]);
                var larger = System.Numerics.Vector.GreaterThan(tv, bv);
                System.Numerics.Vector.ConditionalSelect(larger, tv, bv).CopyTo(b[i..]);
                System.Numerics.Vector.ConditionalSelect(larger, index, new System.Numerics.Vector<int>(argmax[i..])).CopyTo(argmax[i..]);
            }
        }
        for (; i < tap.Length; i++)
            if (tap[i] > best[i]) (best[i], argmax[i]) = (tap[i], at);
    }

    // dx[n, argmax(n, j)] = dy[n, j]; every other input 0 (windows do not overlap)
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        if (_output is null) throw new InvalidOperationException("max pool: Backward before Forward.");
        if (!needInputGradient) return null;
        var dx = MatrixStorage.Reuse(ref _inputGradient, _images, Input.Size);
        dx.Clear();
        var (dv, gv) = (dx.Values(), outputGradient.Values());
        for (int j = 0; j < OutputShape.Size; j++)
            for (int n = 0; n < _images; n++)
                dv[n + _argmax[n + j * _images] * _images] += gv[n + j * _images];
        return dx;
    }
}
