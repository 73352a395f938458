using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Losses;
using Distributed.Shared.Training;

namespace Distributed.Tests.Training;

public class ShardingSpecs
{
    [Theory]
    [InlineData(128, 4)]
    [InlineData(96, 4)]
    [InlineData(7, 3)]
    [InlineData(5, 5)]
    public void Shards_should_cover_the_batch_in_order_without_overlap_and_differ_by_at_most_one(int batch, int shards)
    {
        int next = 0;
        var sizes = new List<int>();
        for (int s = 0; s < shards; s++)
        {
            var (start, count) = ShardPlan.Range(batch, shards, s);
            Assert.Equal(next, start);
            next = start + count;
            sizes.Add(count);
        }
        Assert.Equal(batch, next);
        Assert.True(sizes.Max() - sizes.Min() <= 1);
    }

    [Fact]
    public void Epoch_order_should_be_a_seeded_permutation()
    {
        var a = ShardPlan.EpochOrder(seed: 3, epoch: 1, samples: 1000);
        Assert.Equal(Enumerable.Range(0, 1000), a.Order());
        Assert.Equal(a, ShardPlan.EpochOrder(3, 1, 1000));
        Assert.NotEqual(a, ShardPlan.EpochOrder(3, 2, 1000));
        Assert.NotEqual(a, ShardPlan.EpochOrder(4, 1, 1000));
    }

    [Fact]
    public void Accumulator_should_add_in_the_given_order_and_divide_by_the_batch_size()
    {
        // 1e8 + 1 − 1e8 in float depends on order: (1e8 + 1) rounds back to 1e8.
        var acc = new GradientAccumulator(1);
        acc.Add([1e8f]);
        acc.Add([1f]);
        acc.Add([-1e8f]);
        var mean = new float[1];
        acc.WriteMeanTo(mean, 2);
        Assert.Equal(((1e8f + 1f) + -1e8f) / 2, mean[0]);
        Assert.Equal(0f, mean[0]);

        acc.Reset();
        acc.Add([1e8f]);
        acc.Add([-1e8f]);
        acc.Add([1f]);
        acc.WriteMeanTo(mean, 2);
        Assert.Equal(0.5f, mean[0]);
    }

    [Fact]
    public void Accumulator_should_reject_a_gradient_of_the_wrong_length()
    {
        var ex = Assert.Throws<ArgumentException>(() => new GradientAccumulator(10).Add(new float[9]));
        Assert.Contains("9 values, expected 10", ex.Message);
    }

    [Fact]
    public void Shard_gradient_sums_over_the_batch_size_should_equal_the_batch_mean_gradient()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 64, testLimit: 1).Train;
        var indices = Enumerable.Range(0, 64).ToArray();
        var sharded = Mlp.Create<float>(784, [32], 10, seed: 2);
        var acc = new GradientAccumulator(sharded.ParameterCount);
        var trainer = new ShardTrainer(sharded, seed: 1);
        double lossSum = 0;
        for (int s = 0; s < 4; s++)
        {
            var (start, count) = ShardPlan.Range(64, 4, s);
            lossSum += trainer.Run(data, indices.AsSpan(start, count), step: 0).LossSum;
            acc.Add(sharded);
        }
        var mean = new float[sharded.ParameterCount];
        acc.WriteMeanTo(mean, 64);

        // Independent path: the whole batch at once with the mean loss, in double precision.
        var whole = Mlp.Create<double>(784, [32], 10, seed: 2);
        var (x, t) = new BatchBuilder().Build(data, indices);
        var loss = new SoftmaxCrossEntropy<double>();
        double meanLoss = loss.Forward(whole.Forward(x.Map(v => (double)v)), t.Map(v => (double)v));
        whole.Backward(loss.Backward().InputGradient);
        var expected = new double[whole.ParameterCount];
        whole.CopyGradientsTo(expected);

        Assert.Equal(meanLoss, lossSum / 64, 4);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(mean[i] - expected[i]) < 2e-6, $"parameter {i}: {mean[i]} vs {expected[i]}");
    }
}

public class ShardedStepSpecs
{
    [Fact]
    public void Replicas_side_by_side_should_give_the_same_bits_as_one_replica()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 300, testLimit: 1).Train;
        var order = ShardPlan.EpochOrder(1, 1, data.Count);
        float[] Gradient(int replicas, bool onePass = false)
        {
            var model = Mlp.Create<float>(784, [64, 32], 10, seed: 4);
            var step = new ShardedStep(model, shards: 5, replicas, seed: 1, onePass);
            var (loss, correct) = step.Run(data, order, batchStart: 17, batchCount: 203, step: 0);
            var g = new float[model.ParameterCount];
            model.CopyGradientsTo(g);
            return [.. g, (float)loss, correct];
        }
        var one = Gradient(1);
        Assert.Equal(one, Gradient(2));
        Assert.Equal(one, Gradient(3));
        Assert.Equal(one, Gradient(8));
        Assert.Equal(one, Gradient(1, onePass: true));
    }

    [Fact]
    public void One_pass_over_a_batch_should_equal_its_shards_added_in_order_bit_for_bit()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 300, testLimit: 1).Train;
        var samples = Enumerable.Range(40, 130).ToArray();
        int[] bounds = [0, 33, 65, 98, 130];

        var fused = Mlp.Create<float>(784, [48], 10, seed: 8);
        var outcomes = new ShardTrainer(fused, seed: 1).Run(data, samples, bounds, step: 0);
        var fusedGradient = new float[fused.ParameterCount];
        fused.CopyGradientsTo(fusedGradient);

        var apart = Mlp.Create<float>(784, [48], 10, seed: 8);
        var trainer = new ShardTrainer(apart, seed: 1);
        var sum = new GradientAccumulator(apart.ParameterCount);
        for (int s = 0; s < 4; s++)
        {
            var outcome = trainer.Run(data, samples.AsSpan(bounds[s], bounds[s + 1] - bounds[s]), step: 0);
            Assert.Equal(outcome, outcomes[s]);
            sum.Add(apart);
        }
        var expected = new float[apart.ParameterCount];
        sum.WriteMeanTo(expected, 1);
        Assert.Equal(expected, fusedGradient);
    }

    [Fact]
    public void Replicas_should_share_values_but_not_gradients()
    {
        var model = Mlp.Create<float>(4, [3], 2, seed: 1);
        var replica = model.ReplicaSharingValues();
        model.Parameters[0].Value[0, 0] = 42f;
        Assert.Equal(42f, replica.Parameters[0].Value[0, 0]);
        replica.Parameters[0].Gradient[0, 0] = 7f;
        Assert.Equal(0f, model.Parameters[0].Gradient[0, 0]);
    }
}
