using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Tests.Layers;

/// <summary>Conv2d and MaxPool2d against convolutions and pools written out as their definitions, and their reductions' fixed order.</summary>
public class ConvolutionSpecs
{
    private static Matrix<T> Random<T>(int rows, int columns, int seed) where T : struct, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = SeededRandom.For(seed, "conv-spec");
        return Matrix<T>.Build.Dense(rows, columns, (_, _) => T.CreateTruncating(rng.NextGaussian()));
    }

    /// <summary>out[n, o, oy, ox] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx], zeros outside.</summary>
    private static double Direct(Matrix<double> x, ImageShape s, double[] w, double[] b, int o, int n, int oy, int ox, int k, int stride, int pad)
    {
        double sum = b[o];
        for (int c = 0; c < s.Channels; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    int y = oy * stride - pad + ky, xx = ox * stride - pad + kx;
                    if (y < 0 || y >= s.Height || xx < 0 || xx >= s.Width) continue;
                    sum += w[((o * s.Channels + c) * k + ky) * k + kx] * x[n, (c * s.Height + y) * s.Width + xx];
                }
        return sum;
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(2, 0)]
    [InlineData(2, 2)]
    [InlineData(3, 1)]
    public void Conv2d_should_compute_the_cross_correlation_with_pytorchs_weight_layout(int stride, int padding)
    {
        var shape = new ImageShape(2, 6, 5);
        var conv = new Conv2d<double>(shape, 3, kernel: 3, stride, padding);
        conv.InitializeHe(SeededRandom.For(3, "init"));
        for (int o = 0; o < 3; o++) conv.Bias.Value[0, o] = 0.25 * o - 0.1;
        var x = Random<double>(4, shape.Size, seed: 1);
        var y = conv.Forward(x);
        var w = conv.Weight.Value.Values();
        Assert.Equal(new[] { 3, 2, 3, 3 }, conv.Weight.Shape);
        var (oh, ow) = ((6 + 2 * padding - 3) / stride + 1, (5 + 2 * padding - 3) / stride + 1);
        Assert.Equal(new ImageShape(3, oh, ow), conv.OutputShape);
        Assert.Equal(3 * oh * ow, y.ColumnCount);
        for (int n = 0; n < 4; n++)
            for (int o = 0; o < 3; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(Direct(x, shape, w, conv.Bias.Value.Values(), o, n, oy, ox, 3, stride, padding), y[n, (o * oh + oy) * ow + ox], 12);
    }

    [Fact]
    public void Max_pool_should_take_each_windows_maximum_and_send_its_gradient_to_the_first_maximum_on_a_tie()
    {
        // One 1×4×4 image; the top-left window holds a tie (5 at (0,1) and (1,0)).
        var x = Matrix<double>.Build.DenseOfRowArrays(new double[] { 1, 5, 2, 0, 5, 3, 9, 4, -1, -2, 7, 7, -3, -4, 8, 6 });
        var pool = new MaxPool2d<double>(new ImageShape(1, 4, 4), 2);
        var y = pool.Forward(x);
        Assert.Equal(new double[] { 5, 9, -1, 8 }, y.Row(0).ToArray());
        var dx = pool.Backward(Matrix<double>.Build.DenseOfRowArrays(new double[] { 10, 20, 30, 40 }))!;
        Assert.Equal(new double[] { 0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 0, 0, 0, 0, 40, 0 }, dx.Row(0).ToArray());
    }

    [Fact]
    public void Max_pool_of_an_odd_size_should_drop_the_last_row_and_column_as_pytorch_does()
    {
        var pool = new MaxPool2d<double>(new ImageShape(3, 5, 7), 2);
        Assert.Equal(new ImageShape(3, 2, 3), pool.OutputShape);
        Assert.Equal(18, pool.Forward(Random<double>(2, 105, seed: 4)).ColumnCount);
    }

    /// <summary>
    /// float32, as trained: 6 images in shards of 2, 1 and 3. The grouped weight and bias gradients
    /// must be the bits of each shard computed alone and the sums added in shard order.
    /// </summary>
    [Fact]
    public void Conv2d_gradients_in_shard_groups_should_be_the_shards_computed_apart_and_added_in_order()
    {
        var shape = new ImageShape(2, 7, 7);
        var conv = new Conv2d<float>(shape, 4, kernel: 3, padding: 1);
        conv.InitializeHe(SeededRandom.For(5, "init"));
        var x = Random<float>(6, shape.Size, seed: 6);
        var dy = Random<float>(6, conv.OutputShape.Size, seed: 7);
        int[] bounds = [0, 2, 3, 6];
        conv.Forward(x);
        conv.Backward(dy, needInputGradient: false, GradientSink<float>.InGroups(bounds));
        var grouped = conv.Parameters.Select(p => p.Gradient.Values().ToArray()).ToArray();

        var apart = conv.Parameters.Select(p => new float[p.Count]).ToArray();
        for (int s = 0; s + 1 < bounds.Length; s++)
        {
            int rows = bounds[s + 1] - bounds[s];
            conv.Forward(x.SubMatrix(bounds[s], rows, 0, x.ColumnCount));
            conv.Backward(dy.SubMatrix(bounds[s], rows, 0, dy.ColumnCount), needInputGradient: false, GradientSink<float>.InGroups([0, rows]));
            for (int p = 0; p < apart.Length; p++)
            {
                var g = conv.Parameters[p].Gradient.Values();
                for (int i = 0; i < g.Length; i++) apart[p][i] = s == 0 ? g[i] : apart[p][i] + g[i];
            }
        }
        Assert.Equal(apart[0], grouped[0]);
        Assert.Equal(apart[1], grouped[1]);
    }

    [Fact]
    public void A_kernel_larger_than_the_padded_input_should_be_refused_with_the_sizes()
    {
        var error = Assert.Throws<ArgumentException>(() => new Conv2d<double>(new ImageShape(1, 2, 2), 1, kernel: 5));
        Assert.Contains("a 5×5 kernel does not fit a 1×2×2 input with padding 0", error.Message);
    }
}
