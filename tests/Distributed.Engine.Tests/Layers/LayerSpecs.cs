using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Tests.Layers;

public class LayerSpecs
{
    private static Matrix<double> M(double[,] values) => Matrix<double>.Build.DenseOfArray(values);

    [Fact]
    public void Softmax_backward_should_be_the_row_wise_vector_jacobian_product_worked_by_hand()
    {
        // x = [0, ln 2] → s = [1/3, 2/3]; g = [1, 0] → g·s = 1/3; dx = s ⊙ (g − 1/3) = [2/9, −2/9].
        var softmax = new Softmax<double>();
        var s = softmax.Forward(M(new[,] { { 0, Math.Log(2) } }));
        Assert.Equal(1.0 / 3, s[0, 0], 15);
        var dx = softmax.Backward(M(new double[,] { { 1, 0 } }))!;
        Assert.Equal(2.0 / 9, dx[0, 0], 15);
        Assert.Equal(-2.0 / 9, dx[0, 1], 15);
    }

    [Fact]
    public void Softmax_backward_should_not_mix_rows_of_the_batch()
    {
        var softmax = new Softmax<double>();
        var x = M(new[,] { { 1.0, 2.0, 0.5 }, { -1.0, 0.0, 3.0 } });
        softmax.Forward(x);
        var alone = softmax.Backward(M(new[,] { { 0.3, -0.2, 0.1 }, { 0.0, 0.0, 0.0 } }))!.Row(0);
        var withOtherRow = softmax.Backward(M(new[,] { { 0.3, -0.2, 0.1 }, { 5.0, -7.0, 2.0 } }))!.Row(0);
        Assert.Equal(alone.ToArray(), withOtherRow.ToArray());
    }

    [Fact]
    public void Dense_forward_should_compute_x_times_w_plus_b()
    {
        var dense = new Dense<double>(2, 3);
        M(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } }).CopyTo(dense.Weight.Value);
        M(new double[,] { { 0.5, -0.5, 1 } }).CopyTo(dense.Bias.Value);
        var z = dense.Forward(M(new double[,] { { 1, 1 }, { 2, 0 } }));
        Assert.Equal(new[] { 5.5, 6.5, 10.0 }, z.Row(0).ToArray());
        Assert.Equal(new[] { 2.5, 3.5, 7.0 }, z.Row(1).ToArray());
    }

    [Fact]
    public void Fused_backward_with_one_hot_labels_should_be_softmax_minus_labels_over_n()
    {
        var logits = M(new double[,] { { 0, Math.Log(3) }, { 0, 0 } });
        var labels = M(new double[,] { { 1, 0 }, { 0, 1 } });
        var loss = new SoftmaxCrossEntropy<double>();
        double value = loss.Forward(logits, labels);
        // row 0: s = [1/4, 3/4], label 0 → −log(1/4); row 1: s = [1/2, 1/2] → −log(1/2).
        Assert.Equal((Math.Log(4) + Math.Log(2)) / 2, value, 14);
        var (dz, dt) = loss.Backward();
        Assert.Equal(new[] { (0.25 - 1) / 2, 0.5 / 2 }, dz.Column(0).ToArray(), new Tolerance(1e-15));
        Assert.Equal(new[] { 0.75 / 2, (0.5 - 1) / 2 }, dz.Column(1).ToArray(), new Tolerance(1e-15));
        Assert.Equal(Math.Log(4) / 2, dt[0, 0], 14);
    }

    [Fact]
    public void Sum_reduction_should_be_n_times_the_mean()
    {
        var logits = M(new double[,] { { 1, 2, 3 }, { 0, -1, 4 }, { 2, 2, 2 } });
        var labels = M(new double[,] { { 0, 0, 1 }, { 1, 0, 0 }, { 0, 1, 0 } });
        var mean = new SoftmaxCrossEntropy<double>(LossReduction.Mean);
        var sum = new SoftmaxCrossEntropy<double>(LossReduction.Sum);
        Assert.Equal(3 * mean.Forward(logits, labels), sum.Forward(logits, labels), 12);
        var dMean = mean.Backward().InputGradient;
        var dSum = sum.Backward().InputGradient;
        Assert.Equal((3 * dMean).ToColumnMajorArray(), dSum.ToColumnMajorArray(), new Tolerance(1e-15));
    }

    [Fact]
    public void Cross_entropy_should_ignore_zero_probabilities_where_the_target_is_zero()
    {
        var loss = new CrossEntropy<double>();
        double value = loss.Forward(M(new double[,] { { 1, 0 } }), M(new double[,] { { 1, 0 } }));
        Assert.Equal(0, value);
        Assert.True(double.IsFinite(loss.Backward().InputGradient[0, 1]));
    }

    [Fact]
    public void Losses_should_reject_targets_of_another_shape()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SoftmaxCrossEntropy<float>().Forward(
            Matrix<float>.Build.Dense(2, 10), Matrix<float>.Build.Dense(2, 9)));
        Assert.Contains("2×10", ex.Message);
    }

    [Fact]
    public void Float_model_gradients_through_the_fast_kernel_should_match_the_double_model()
    {
        var f = Mlp.Create<float>(30, [20, 16], 10, seed: 3);
        var d = Mlp.Create<double>(30, [20, 16], 10, seed: 3);
        var rng = new SeededRandom(9);
        var x = Matrix<double>.Build.Dense(64, 30, (_, _) => rng.NextDouble());
        var t = Matrix<double>.Build.Dense(64, 10);
        for (int i = 0; i < 64; i++) t[i, i % 10] = 1;

        var lf = new SoftmaxCrossEntropy<float>();
        var ld = new SoftmaxCrossEntropy<double>();
        float lossF = lf.Forward(f.Forward(x.Map(v => (float)v)), t.Map(v => (float)v));
        double lossD = ld.Forward(d.Forward(x), t);
        f.Backward(lf.Backward().InputGradient);
        d.Backward(ld.Backward().InputGradient);

        Assert.Equal(lossD, lossF, 4);
        var gf = new float[f.ParameterCount];
        var gd = new double[d.ParameterCount];
        f.CopyGradientsTo(gf);
        d.CopyGradientsTo(gd);
        for (int i = 0; i < gd.Length; i++) Assert.True(Math.Abs(gf[i] - gd[i]) < 1e-5, $"parameter {i}: {gf[i]} vs {gd[i]}");
    }

    [Fact]
    public void Flat_parameters_should_follow_the_documented_order_and_round_trip()
    {
        var model = Mlp.Create<float>(3, [2], 2, seed: 1);
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"], model.Parameters.Select(p => p.Name));
        Assert.Equal(3 * 2 + 2 + 2 * 2 + 2, model.ParameterCount);
        var flat = Enumerable.Range(0, model.ParameterCount).Select(i => (float)i).ToArray();
        model.LoadValues(flat);
        // weight (3×2) column-major: element (row 1, column 0) is the second value.
        Assert.Equal(1f, model.Parameters[0].Value[1, 0]);
        Assert.Equal(6f, model.Parameters[1].Value[0, 0]);
        Assert.Equal(flat, model.FlattenValues());
        Assert.Throws<ArgumentException>(() => model.LoadValues(new float[5]));
    }

    [Fact]
    public void He_initialisation_should_be_seeded_and_scaled_by_fan_in()
    {
        var a = Mlp.Create<float>(784, [256], 10, seed: 5).FlattenValues();
        var b = Mlp.Create<float>(784, [256], 10, seed: 5).FlattenValues();
        var c = Mlp.Create<float>(784, [256], 10, seed: 6).FlattenValues();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var w1 = a.Take(784 * 256).Select(v => (double)v).ToArray();
        double std = Math.Sqrt(w1.Select(v => v * v).Average());
        Assert.InRange(std, 0.95 * Math.Sqrt(2.0 / 784), 1.05 * Math.Sqrt(2.0 / 784));
    }
}
