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
    public void ImageToColumns<T>(Matrix<T> images, Matrix<T> cols) where T : struct, IFloatingPointIeee754<T>
    {
        var (xv, cv) = (images.Values(), cols.Values());
        int n = images.RowCount, rows = cols.RowCount;
        for (int q = 0; q < PatchSize; q++)
        {
            var (c, ky, kx) = Patch(q);
            for (int image = 0; image < n; image++)
                for (int oy = 0; oy < OutputHeight; oy++)
                    for (int ox = 0; ox < OutputWidth; ox++)
                    {
                        int at = Source(c, oy, ox, ky, kx);
                        cv[image * Positions + oy * OutputWidth + ox + q * rows] = at < 0 ? T.Zero : xv[image + at * n];
                    }
        }
    }

    // dx[n, c, y, x] = Σ over (p, q) landing on (y, x) of dcols[n·P + p, q], added in order of q, then p
    public void ColumnsToImage<T>(Matrix<T> dCols, Matrix<T> dImages) where T : struct, IFloatingPointIeee754<T>
    {
        dImages.Clear();
        var (dv, xv) = (dCols.Values(), dImages.Values());
        int n = dImages.RowCount, rows = dCols.RowCount;
        for (int image = 0; image < n; image++)
            for (int q = 0; q < PatchSize; q++)
            {
                var (c, ky, kx) = Patch(q);
                for (int oy = 0; oy < OutputHeight; oy++)
                    for (int ox = 0; ox < OutputWidth; ox++)
                    {
                        int at = Source(c, oy, ox, ky, kx);
                        if (at >= 0) xv[image + at * n] += dv[image * Positions + oy * OutputWidth + ox + q * rows];
                    }
            }
    }

    private (int Channel, int Ky, int Kx) Patch(int q) => (q / (Kernel * Kernel), q / Kernel % Kernel, q % Kernel);

    /// <summary>The input feature under kernel tap (ky, kx) at output (oy, ox) of channel c, or −1 in the padding.</summary>
    private int Source(int c, int oy, int ox, int ky, int kx)
    {
        int y = oy * Stride - Padding + ky, x = ox * Stride - Padding + kx;
        return y < 0 || y >= Input.Height || x < 0 || x >= Input.Width ? -1 : (c * Input.Height + y) * Input.Width + x;
    }
}
