using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Data;

/// <summary>Builds a batch's input (pixels / 255, one image per row) and one-hot targets from sample indices.</summary>
public sealed class BatchBuilder
{
    // pixel / 255 for every byte value, computed once (a division per pixel is the slow part otherwise).
    private static readonly float[] Scaled = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

    private const int Block = 8;
    private Matrix<float>? _x, _t;

    public (Matrix<float> Inputs, Matrix<float> Targets) Build(ImageSet data, ReadOnlySpan<int> indices)
    {
        int n = indices.Length;
        var x = MatrixStorage.Reuse(ref _x, n, data.PixelsPerImage);
        var t = MatrixStorage.Reuse(ref _t, n, data.Classes);
        var xv = x.Values();
        var tv = t.Values();
        Array.Clear(tv);
        var pixels = data.Pixels;
        int width = data.PixelsPerImage;
        foreach (int sample in indices)
            if ((uint)sample >= (uint)data.Count) throw new ArgumentOutOfRangeException(nameof(indices), $"sample {sample} is outside 0–{data.Count - 1}.");
        // x_{i,f} = pixel / 255, written down column f of the column-major batch. Eight samples at a
        // time, so each write to a column touches one cache line instead of eight.
        Span<int> source = stackalloc int[Block];
        for (int i0 = 0; i0 < n; i0 += Block)
        {
            int rows = Math.Min(Block, n - i0);
            for (int r = 0; r < rows; r++) source[r] = indices[i0 + r] * width;
            for (int f = 0; f < width; f++)
            {
                int column = f * n + i0;
                for (int r = 0; r < rows; r++) xv[column + r] = Scaled[pixels[source[r] + f]];
            }
        }
        for (int i = 0; i < n; i++) tv[data.Labels[indices[i]] * n + i] = 1f;
        return (x, t);
    }
}
