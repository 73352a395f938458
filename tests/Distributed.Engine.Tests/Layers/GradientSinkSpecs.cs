using Distributed.Shared.Layers;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Tests.Layers;

public sealed class GradientSinkSpecs
{
    private static Matrix<float> Random(int rows, int columns, int seed)
    {
        var rng = new Random(seed);
        return Matrix<float>.Build.Dense(rows, columns, (_, _) => (float)(rng.NextDouble() * 2 - 1));
    }

    [Theory]
    [InlineData(new[] { 0, 17, 40, 64 })]
    // Groups of more than KC = 256 rows (a convolution's images × positions): several k-blocks each.
    [InlineData(new[] { 0, 600, 1100, 1700 })]
    [InlineData(new[] { 0, 256, 513, 520 })]
    public void Grouped_rows_should_give_the_bits_of_each_group_summed_apart_and_added_in_order(int[] groups)
    {
        int n = groups[^1];
        var x = Random(n, 30, 1);
        var dz = Random(n, 9, 2);
        var weight = new Parameter<float>("w", Matrix<float>.Build.Dense(30, 9));
        var bias = new Parameter<float>("b", Matrix<float>.Build.Dense(1, 9));
        var sink = GradientSink<float>.InGroups(groups);
        sink.RowProducts(weight, x, dz);
        sink.RowSums(bias, dz);

        // Apart: each group's rows alone through the whole-batch sink, then the group sums added in order.
        var (w, b) = (new float[30 * 9], new float[9]);
        for (int g = 0; g + 1 < groups.Length; g++)
        {
            int rows = groups[g + 1] - groups[g];
            var part = (W: new Parameter<float>("w", Matrix<float>.Build.Dense(30, 9)), B: new Parameter<float>("b", Matrix<float>.Build.Dense(1, 9)));
            GradientSink<float>.WholeBatch.RowProducts(part.W, x.SubMatrix(groups[g], rows, 0, 30), dz.SubMatrix(groups[g], rows, 0, 9));
            GradientSink<float>.WholeBatch.RowSums(part.B, dz.SubMatrix(groups[g], rows, 0, 9));
            var (pw, pb) = (part.W.Gradient.ToColumnMajorArray(), part.B.Gradient.ToColumnMajorArray());
            for (int i = 0; i < w.Length; i++) w[i] = g == 0 ? pw[i] : w[i] + pw[i];
            for (int i = 0; i < b.Length; i++) b[i] = g == 0 ? pb[i] : b[i] + pb[i];
        }
        Assert.Equal(w, weight.Gradient.ToColumnMajorArray());
        Assert.Equal(b, bias.Gradient.ToColumnMajorArray());
        // And the value is the plain sum over all rows, up to rounding.
        var whole = x.TransposeThisAndMultiply(dz).ToColumnMajorArray();
        Assert.All(whole.Zip(w), p => Assert.True(Math.Abs(p.First - p.Second) < 1e-3, $"{p.First} vs {p.Second}"));
    }

    [Theory]
    [InlineData(new[] { 0 })]
    [InlineData(new[] { 1, 64 })]
    [InlineData(new[] { 0, 40, 20, 64 })]
    public void Boundaries_that_do_not_rise_from_zero_should_be_refused(int[] groups) =>
        Assert.Throws<ArgumentException>(() => GradientSink<float>.InGroups(groups));

    [Fact]
    public void Groups_that_do_not_cover_the_batch_should_be_refused()
    {
        var sink = GradientSink<float>.InGroups([0, 10, 32]);
        var e = Assert.Throws<ArgumentException>(() => sink.RowSums(new Parameter<float>("b", Matrix<float>.Build.Dense(1, 3)), Random(64, 3, 3)));
        Assert.Contains("Row groups end at 32, the batch has 64 rows", e.Message);
    }
}
