using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Tests.Layers;

/// <summary>Dropout's mask is a function of (seed, step, sample, layer, element): not of the batch a sample is in, nor of who computes it.</summary>
public sealed class DropoutSpecs
{
    private static Matrix<float> Ones(int rows, int columns) => Matrix<float>.Build.Dense(rows, columns, 1f);

    [Fact]
    public void A_sample_should_get_the_same_mask_alone_or_in_any_batch_at_any_row()
    {
        var dropout = new Dropout<float>(0.5, salt: 1);
        var batch = dropout.Forward(Ones(3, 64), new ForwardContext(7, 3, [11, 42, 5])).Clone();
        var alone = dropout.Forward(Ones(1, 64), new ForwardContext(7, 3, [42]));
        Assert.Equal(batch.Row(1), alone.Row(0));
        var reordered = new Dropout<float>(0.5, salt: 1).Forward(Ones(2, 64), new ForwardContext(7, 3, [5, 11]));
        Assert.Equal(batch.Row(2), reordered.Row(0));
        Assert.Equal(batch.Row(0), reordered.Row(1));
    }

    [Fact]
    public void The_mask_should_change_with_the_step_the_seed_the_sample_and_the_layer()
    {
        Vector<float> Mask(int seed, long step, int sample, ulong salt) => new Dropout<float>(0.5, salt).Forward(Ones(1, 256), new ForwardContext(seed, step, [sample])).Row(0);
        var reference = Mask(1, 0, 0, 0);
        Assert.NotEqual(reference, Mask(1, 1, 0, 0));
        Assert.NotEqual(reference, Mask(2, 0, 0, 0));
        Assert.NotEqual(reference, Mask(1, 0, 1, 0));
        Assert.NotEqual(reference, Mask(1, 0, 0, 1));
        Assert.Equal(reference, Mask(1, 0, 0, 0));
    }

    [Fact]
    public void About_the_rate_should_be_dropped_and_the_rest_scaled_by_one_over_one_minus_the_rate()
    {
        var y = new Dropout<float>(0.25, salt: 9).Forward(Ones(100, 1000), new ForwardContext(1, 0, [.. Enumerable.Range(0, 100)]));
        var values = y.Values();
        double dropped = values.Count(v => v == 0) / (double)values.Length;
        // 100,000 Bernoulli(0.25) draws: the share is within 0.25 ± 0.005 (more than 3.6 standard deviations).
        Assert.InRange(dropped, 0.245, 0.255);
        Assert.All(values.Where(v => v != 0), v => Assert.Equal(1f / 0.75f, v));
    }

    [Fact]
    public void Inference_should_pass_values_and_gradients_through()
    {
        var dropout = new Dropout<float>(0.5, salt: 1);
        var x = Matrix<float>.Build.Dense(2, 3, (i, j) => i * 3 + j + 1);
        Assert.Equal(x, dropout.Forward(x));
        Assert.Equal(x, dropout.Backward(x));
    }

    [Fact]
    public void Backward_should_apply_the_forward_mask_to_the_gradient()
    {
        var dropout = new Dropout<float>(0.5, salt: 1);
        var y = dropout.Forward(Ones(4, 32), new ForwardContext(1, 0, [0, 1, 2, 3])).Clone();
        var dx = dropout.Backward(Matrix<float>.Build.Dense(4, 32, 3f))!;
        // y = 1 ⊙ m/(1 − p), so dx = 3 ⊙ m/(1 − p) = 3y.
        Assert.Equal(y * 3f, dx);
    }

    [Fact]
    public void A_context_for_other_rows_should_be_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Dropout<float>(0.5, salt: 1).Forward(Ones(3, 4), new ForwardContext(1, 0, [0, 1])));
        Assert.Contains("names 2 samples for a batch of 3 rows", e.Message);
    }
}
