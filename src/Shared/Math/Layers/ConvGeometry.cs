using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>An image of <paramref name="Channels"/> planes of <paramref name="Height"/> × <paramref name="Width"/>, stored as one row in CHW order.</summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public int Size => Channels * Height * Width;

    public override string ToString() => $"{Channels}×{Height}×{Width}";
}

/// <summary>
/// Where a square kernel of size <paramref name="Kernel"/> lands on an input image with
/// <paramref name="Stride"/> and zero <paramref name="Padding"/>, and the im2col / col2im that follow
/// from it. Output size = ⌊(H + 2·pad − K) / stride⌋ + 1, as in PyTorch.
/// </summary>
public sealed record ConvGeometry
{
    public ConvGeometry(ImageShape input, int kernel, int stride, int padding)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (input.Height + 2 * padding < kernel || input.Width + 2 * padding < kernel)
            throw new ArgumentException($"a {kernel}×{kernel} kernel does not fit a {input} input with padding {padding}.");
        (Input, Kernel, Stride, Padding) = (input, kernel, stride, padding);
        OutputHeight = (input.Height + 2 * padding - kernel) / stride + 1;
        OutputWidth = (input.Width + 2 * padding - kernel) / stride + 1;
    }

    public ImageShape Input { get; }

    public int Kernel { get; }

    public int Stride { get; }

    public int Padding { get; }

    public int OutputHeight { get; }

    public int OutputWidth { get; }

    /// <summary>Output positions per image (P).</summary>
    public int Positions => OutputHeight * OutputWidth;

    /// <summary>Values under the kernel (C·K·K): patch index q = (c·K + ky)·K + kx, PyTorch's weight order.</summary>
    public int PatchSize => Input.Channels * Kernel * Kernel;

    // cols[n·P + p, q] = x[n, c, oy·s − pad + ky, ox·s − pad + kx], 0 outside the image
    /// <param name="scratch">At least N·C·H·W values: the images, one per row, so that each kernel row reads a contiguous run.</param>
    public void ImageToColumns<T>(Matrix<T> images, Matrix<T> cols, Span<T> scratch) where T : struct, IFloatingPointIeee754<T>
    {
        int n = images.RowCount, rows = cols.RowCount, size = Input.Size;
        MatrixStorage.Transpose<T>(images.Values(), size, n, scratch);
        Span<T> cv = cols.Values();
        for (int q = 0; q < PatchSize; q++)
        {
            var (c, ky, kx) = Patch(q);
            var (first, count) = Columns(kx);
            for (int image = 0; image < n; image++)
                for (int oy = 0; oy < OutputHeight; oy++)
                {
                    var target = cv.Slice(q * rows + image * Positions + oy * OutputWidth, OutputWidth);
                    int y = oy * Stride - Padding + ky;
                    if (y < 0 || y >= Input.Height || count == 0)
                    {
                        target.Clear();
                        continue;
                    }
                    var source = scratch.Slice(image * size + (c * Input.Height + y) * Input.Width);
                    target[..first].Clear();
                    target[(first + count)..].Clear();
                    int x0 = first * Stride - Padding + kx;
                    if (Stride == 1) source.Slice(x0, count).CopyTo(target.Slice(first, count));
                    else for (int i = 0; i < count; i++) target[first + i] = source[x0 + i * Stride];
                }
        }
    }

    // dx[n, c, y, x] = Σ over (p, q) landing on (y, x) of dcols[n·P + p, q], added in order of q, then p
    /// <param name="scratch">At least N·C·H·W values: the gradient is summed one image per row, then transposed into <paramref name="dImages"/>.</param>
    public void ColumnsToImage<T>(Matrix<T> dCols, Matrix<T> dImages, Span<T> scratch) where T : struct, IFloatingPointIeee754<T>
    {
        int n = dImages.RowCount, rows = dCols.RowCount, size = Input.Size;
        var sums = scratch[..(n * size)];
        sums.Clear();
        ReadOnlySpan<T> dv = dCols.Values();
        for (int image = 0; image < n; image++)
            for (int q = 0; q < PatchSize; q++)
            {
                var (c, ky, kx) = Patch(q);
                var (first, count) = Columns(kx);
                if (count == 0) continue;
                int x0 = first * Stride - Padding + kx;
                for (int oy = 0; oy < OutputHeight; oy++)
                {
                    int y = oy * Stride - Padding + ky;
                    if (y < 0 || y >= Input.Height) continue;
                    var source = dv.Slice(q * rows + image * Positions + oy * OutputWidth + first, count);
                    var target = sums.Slice(image * size + (c * Input.Height + y) * Input.Width);
                    if (Stride == 1) Add(target.Slice(x0, count), source);
                    else for (int i = 0; i < count; i++) target[x0 + i * Stride] += source[i];
                }
            }
        MatrixStorage.Transpose<T>(sums, n, size, dImages.Values());
    }

    /// <summary>The output columns ox whose tap kx lands inside the image: ox·s − pad + kx ∈ [0, W).</summary>
    private (int First, int Count) Columns(int kx)
    {
        int first = Math.Max(0, (Padding - kx + Stride - 1) / Stride), beyond = Input.Width - 1 + Padding - kx;
        if (beyond < 0) return (0, 0); // the tap lies right of the image for every ox
        int last = Math.Min(OutputWidth - 1, beyond / Stride);
        return (first, Math.Max(0, last - first + 1));
    }

    // target += source, element by element (the same single rounding per add as a scalar loop)
    private static void Add<T>(Span<T> target, ReadOnlySpan<T> source) where T : struct, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= target.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
                (new System.Numerics.Vector<T>(target[i..]) + new System.Numerics.Vector<T>(source[i..])).CopyTo(target[i..]);
        for (; i < target.Length; i++) target[i] += source[i];
    }

    private (int Channel, int Ky, int Kx) Patch(int q) => (q / (Kernel * Kernel), q / Kernel % Kernel, q % Kernel);
}
