using Distributed.Shared.Data;
using Distributed.Shared.Numerics;

namespace Distributed.Tests.Data;

public class BatchBuilderSpecs
{
    private static ImageSet Images(int count, int rows, int columns, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * rows * columns];
        rng.NextBytes(pixels);
        // Every byte value occurs, the extremes included.
        for (int v = 0; v < 256 && v < pixels.Length; v++) pixels[v * 7 % pixels.Length] = (byte)v;
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i * 3 % 10)).ToArray();
        return new ImageSet(pixels, labels, rows, columns);
    }

    // x_{i,f} = pixel / 255 (an IEEE float division), t_{i,c} = [label = c], for every row: the
    // vector gathers' 16- or 8-row blocks and the scalar tail alike.
    [Theory]
    [InlineData(28, 28, 37)]
    [InlineData(28, 28, 128)]
    [InlineData(5, 5, 19)]
    [InlineData(2, 2, 1)]
    public void A_batch_should_hold_each_pixel_over_255_and_one_hot_labels(int rows, int columns, int n)
    {
        var data = Images(300, rows, columns, seed: rows + n);
        var rng = new Random(n);
        var indices = Enumerable.Range(0, n).Select(_ => rng.Next(data.Count)).ToArray();
        indices[0] = data.Count - 1; // the last image: a gather must not read past the pixels
        var (x, t) = new BatchBuilder().Build(data, indices);
        var xv = x.Values();
        var tv = t.Values();
        int width = rows * columns;
        for (int i = 0; i < n; i++)
        {
            for (int f = 0; f < width; f++)
            {
                float expected = data.Pixels[indices[i] * width + f] / 255f;
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(xv[f * n + i]),
                    $"row {i}, pixel {f}: {xv[f * n + i]} instead of {expected}");
            }
            for (int c = 0; c < 10; c++) Assert.Equal(data.Labels[indices[i]] == c ? 1f : 0f, tv[c * n + i]);
        }
    }

    [Fact]
    public void A_sample_outside_the_set_should_be_refused()
    {
        var data = Images(10, 28, 28, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new BatchBuilder().Build(data, [0, 10]));
        Assert.Contains("sample 10 is outside 0–9", e.Message);
    }
}
