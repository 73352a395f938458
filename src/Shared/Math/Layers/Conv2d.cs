using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// 2-D convolution (PyTorch's Conv2d: cross-correlation, zero padding) on images stored one per row
/// in NCHW order (feature c·H·W + y·W + x, so a flattened output feeds a dense layer as
/// <c>torch.flatten</c> would). Lowered to one GEMM by im2col: every output position of every image
/// is a row of <c>cols</c> (N·P × C·K·K), and Y = cols·W with W of shape C·K·K × O, whose
/// column-major storage is PyTorch's <c>[out, in, kh, kw]</c> weight. The weight gradient is a sum
/// over rows like a dense layer's, grouped by the sink per image (P rows each), so shards get the same
/// bits apart or together; col2im adds into the input gradient in one fixed loop order.
/// </summary>
public sealed class Conv2d<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _cols, _stacked, _output, _stackedGradient, _colsGradient, _inputGradient;
    private int _images;
    private T[] _scratch = [];

    public Conv2d(ImageShape input, int outputs, int kernel, int stride = 1, int padding = 0, string name = "conv")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        Geometry = new ConvGeometry(input, kernel, stride, padding);
        Weight = new Parameter<T>($"{name}.weight", Matrix<T>.Build.Dense(Geometry.PatchSize, outputs), [outputs, input.Channels, kernel, kernel]);
        Bias = new Parameter<T>($"{name}.bias", Matrix<T>.Build.Dense(1, outputs), [outputs]);
        Parameters = [Weight, Bias];
    }

    private Conv2d(ConvGeometry geometry, Parameter<T> weight, Parameter<T> bias)
    {
        (Geometry, Weight, Bias) = (geometry, weight, bias);
        Parameters = [Weight, Bias];
    }

    public ConvGeometry Geometry { get; }

    public Parameter<T> Weight { get; }

    public Parameter<T> Bias { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; }

    public int Outputs => Weight.Value.ColumnCount;

    /// <summary>The output image: <see cref="Outputs"/> channels of the geometry's output size.</summary>
    public ImageShape OutputShape => new(Outputs, Geometry.OutputHeight, Geometry.OutputWidth);

    public ILayer<T> ReplicaSharingValues() => new Conv2d<T>(Geometry, Weight.SharingValue(), Bias.SharingValue());

    /// <summary>He initialisation for ReLU networks: W ~ N(0, 2/fan_in) with fan_in = C·K·K, b = 0.</summary>
    public void InitializeHe(SeededRandom rng)
    {
        double std = Math.Sqrt(2.0 / Geometry.PatchSize);
        var w = Weight.Value.Values();
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating(rng.NextGaussian() * std);
        Bias.Value.Clear();
    }

    // Y[n, o, p] = b[o] + Σ_q cols[n·P + p, q] · W[q, o]
    public Matrix<T> Forward(Matrix<T> input)
    {
        var g = Geometry;
        if (input.ColumnCount != g.Input.Size)
            throw new ArgumentException($"{Weight.Name}: input has {input.ColumnCount} columns, expected {g.Input} = {g.Input.Size}.");
        _images = input.RowCount;
        var cols = MatrixStorage.Reuse(ref _cols, _images * g.Positions, g.PatchSize);
        g.ImageToColumns(input, cols, Scratch());
        var stacked = MatrixStorage.Reuse(ref _stacked, cols.RowCount, Outputs);
        cols.Multiply(Weight.Value, stacked);
        var y = MatrixStorage.Reuse(ref _output, _images, Outputs * g.Positions);
        var (yv, sv, b) = (y.Values(), stacked.Values(), Bias.Value.Values());
        int block = _images * g.Positions;
        for (int o = 0; o < Outputs; o++)
        {
            // Channel o: stacked holds it per image (n·P + p), y per position (n + p·N).
            var channel = yv.AsSpan(o * block, block);
            MatrixStorage.Transpose<T>(sv.AsSpan(o * block, block), _images, g.Positions, channel);
            for (int i = 0; i < channel.Length; i++) channel[i] += b[o];
        }
        return y;
    }

    // dW = colsᵀ·dY,  db = 1ᵀ·dY (rows grouped per image as the sink groups images),  dX = col2im(dY·Wᵀ)
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        var cols = _cols ?? throw new InvalidOperationException($"{Weight.Name}: Backward before Forward.");
        var g = Geometry;
        var dStacked = MatrixStorage.Reuse(ref _stackedGradient, cols.RowCount, Outputs);
        var (dv, gv) = (dStacked.Values(), outputGradient.Values());
        int block = _images * g.Positions;
        for (int o = 0; o < Outputs; o++) MatrixStorage.Transpose<T>(gv.AsSpan(o * block, block), g.Positions, _images, dv.AsSpan(o * block, block));
        var perPosition = (gradients ?? GradientSink<T>.WholeBatch).RowsPer(g.Positions);
        perPosition.RowProducts(Weight, cols, dStacked);
        perPosition.RowSums(Bias, dStacked);
        if (!needInputGradient) return null;
        var dCols = MatrixStorage.Reuse(ref _colsGradient, cols.RowCount, g.PatchSize);
        dStacked.TransposeAndMultiply(Weight.Value, dCols);
        var dx = MatrixStorage.Reuse(ref _inputGradient, _images, g.Input.Size);
        g.ColumnsToImage(dCols, dx, Scratch());
        return dx;
    }

    /// <summary>One image per row (N·C·H·W values), for im2col and col2im to read and write contiguous runs.</summary>
    private Span<T> Scratch()
    {
        int size = _images * Geometry.Input.Size;
        if (_scratch.Length < size) _scratch = new T[size];
        return _scratch.AsSpan(0, size);
    }
}
