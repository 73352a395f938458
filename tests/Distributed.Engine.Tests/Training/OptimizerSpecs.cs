using Distributed.Shared.Layers;
using Distributed.Shared.Optimizers;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Tests.Training;

public class OptimizerSpecs
{
    private static Parameter<float> Scalar(float value, float gradient)
    {
        var p = new Parameter<float>("p", Matrix<float>.Build.Dense(1, 1, value));
        p.Gradient[0, 0] = gradient;
        return p;
    }

    [Fact]
    public void Sgd_momentum_should_follow_v_equals_mu_v_plus_g()
    {
        var p = Scalar(1f, 0.5f);
        var sgd = new Sgd(momentum: 0.9f);
        sgd.Step([p], 0.1f); // v = 0.5, w = 1 − 0.05
        Assert.Equal(0.95f, p.Value[0, 0], 6);
        sgd.Step([p], 0.1f); // v = 0.45 + 0.5 = 0.95, w = 0.95 − 0.095
        Assert.Equal(0.855f, p.Value[0, 0], 6);
        Assert.Equal(2, sgd.Steps);
    }

    [Fact]
    public void Nesterov_should_step_along_g_plus_mu_v()
    {
        var p = Scalar(1f, 0.5f);
        new Sgd(momentum: 0.9f, nesterov: true).Step([p], 0.1f); // v = 0.5; w = 1 − 0.1·(0.5 + 0.45)
        Assert.Equal(0.905f, p.Value[0, 0], 6);
    }

    [Fact]
    public void Sgd_weight_decay_should_add_lambda_w_to_the_gradient()
    {
        var p = Scalar(2f, 0f);
        new Sgd(momentum: 0f, weightDecay: 0.1f).Step([p], 0.5f); // g = 0.2, w = 2 − 0.1
        Assert.Equal(1.9f, p.Value[0, 0], 6);
    }

    [Fact]
    public void Adam_first_step_should_move_each_weight_by_about_the_learning_rate()
    {
        // m̂ = g and v̂ = g² after one step, so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
        var p = Scalar(1f, -3f);
        var adam = new Adam();
        adam.Step([p], 0.01f);
        Assert.Equal(1.01f, p.Value[0, 0], 5);
        // Second step with the same gradient: m̂ = g, v̂ = g² again, so another +lr.
        adam.Step([p], 0.01f);
        Assert.Equal(1.02f, p.Value[0, 0], 5);
    }

    [Fact]
    public void AdamW_decay_should_be_decoupled_from_the_gradient()
    {
        var p = Scalar(2f, 0f);
        new Adam(weightDecay: 0.1f).Step([p], 0.5f); // m = v = 0 → only w −= lr·λ·w = 0.1
        Assert.Equal(1.9f, p.Value[0, 0], 6);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void Vector_lanes_and_the_scalar_tail_should_compute_the_same_bits(string kind)
    {
        // 13 identical elements: the first 8 take the vector path, the last 5 the scalar tail.
        var p = new Parameter<float>("p", Matrix<float>.Build.Dense(1, 13, 0.7f));
        IOptimizer opt = kind == "sgd" ? new Sgd(0.9f, nesterov: true, weightDecay: 0.01f) : new Adam(weightDecay: 0.01f);
        for (int step = 0; step < 5; step++)
        {
            p.Gradient.MapInplace(_ => 0.3f / (step + 1));
            opt.Step([p], 0.05f);
        }
        var values = p.Value.Row(0).ToArray();
        Assert.All(values, v => Assert.Equal(BitConverter.SingleToInt32Bits(values[0]), BitConverter.SingleToInt32Bits(v)));
    }

    [Fact]
    public void Cosine_schedule_should_fall_from_the_base_rate_to_zero()
    {
        var s = new LearningRateSchedule(LearningRateSchedule.Cosine, 0.2f, 100);
        Assert.Equal(0.2f, s.At(0), 6);
        Assert.Equal(0.1f, s.At(50), 6);
        Assert.Equal(0f, s.At(100), 6);
        Assert.Equal(0.2f, new LearningRateSchedule(LearningRateSchedule.Constant, 0.2f, 100).At(77));
    }
}
