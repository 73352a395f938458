using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Training;

namespace Distributed.Tests.Training;

public class ReductionPlanSpecs
{
    [Fact]
    public void Blocks_should_cut_the_shards_into_consecutive_runs_that_cover_them_once()
    {
        var plan = new ReductionPlan(shards: 7, blocks: 3);
        Assert.Equal([(0, 2), (2, 2), (4, 3)], Enumerable.Range(0, 3).Select(plan.Block));
        Assert.Equal([0, 0, 1, 1, 2, 2, 2], Enumerable.Range(0, 7).Select(plan.BlockOf));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReductionPlan(4, 5));
    }

    [Fact]
    public void Only_runs_that_start_a_block_should_travel_as_one_piece()
    {
        var plan = new ReductionPlan(shards: 8, blocks: 2);
        Assert.Equal([(0, 4), (4, 4)], plan.Pieces([0, 1, 2, 3, 4, 5, 6, 7]));
        Assert.Equal([(1, 1), (2, 1), (4, 2)], plan.Pieces([5, 1, 4, 2]));
        Assert.Equal([(0, 1), (2, 1)], plan.Pieces([0, 2]));
        Assert.True(plan.IsPiece(4, 3));
        Assert.False(plan.IsPiece(1, 2));   // does not start a block
        Assert.False(plan.IsPiece(2, 4));   // crosses into the next block
        Assert.Equal([(0, 3)], new ReductionPlan(3, 1).Pieces([2, 1, 0]));
    }

    [Fact]
    public void Losses_should_be_added_within_blocks_then_across_them()
    {
        // Beside 2^53 a 1 is lost in rounding: left to right both 1s vanish (0), per block of two one survives (1).
        const double big = 9007199254740992.0;
        double[] losses = [big, 1, 1, -big];
        Assert.Equal(0.0, new ReductionPlan(4, 1).SumLosses(losses));
        Assert.Equal(1.0, new ReductionPlan(4, 2).SumLosses(losses));
        Assert.NotEqual(new ReductionPlan(4, 1).SumLosses(losses), new ReductionPlan(4, 2).SumLosses(losses));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Pieces_from_workers_should_reduce_to_the_single_process_bits(int blocks)
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 300, testLimit: 1).Train;
        var order = ShardPlan.EpochOrder(1, 1, data.Count);
        const int shards = 6, batchStart = 11, batchCount = 150;
        var plan = new ReductionPlan(shards, blocks);

        var single = Mlp.Create<float>(784, [40], 10, seed: 3);
        var (loss, correct) = new ShardedStep(single, shards, replicas: 1, seed: 1, blocks: blocks).Run(data, order, batchStart, batchCount, step: 0);
        var expected = new float[single.ParameterCount];
        single.CopyGradientsTo(expected);

        // Three "workers" hold contiguous runs [0, 1], [2, 3], [4, 5] and send each run's pieces, in reverse order.
        var worker = new ShardTrainer(Mlp.Create<float>(784, [40], 10, seed: 3), seed: 1);
        int[] Samples(int s)
        {
            var (start, count) = ShardPlan.Range(batchCount, shards, s);
            return order.AsSpan(batchStart + start, count).ToArray();
        }
        var collector = new StepCollector(0, Enumerable.Range(0, shards).Select(s => Samples(s).Length).ToArray(), single.ParameterCount, plan);
        var pieces = new[] { new[] { 0, 1 }, [2, 3], [4, 5] }.SelectMany(run => plan.Pieces(run)).Reverse().ToList();
        Assert.Contains(pieces, p => p.Count > 1);
        foreach (var (first, count) in pieces)
        {
            var parts = Enumerable.Range(first, count).Select(Samples).ToArray();
            var segments = parts.Select(p => p.Length).Prepend(0).ToArray();
            for (int i = 1; i < segments.Length; i++) segments[i] += segments[i - 1];
            var outcomes = worker.Run(data, parts.SelectMany(p => p).ToArray(), segments, step: 0);
            var gradient = new float[single.ParameterCount];
            worker.Model.CopyGradientsTo(gradient);
            Assert.Equal(ShardVerdict.Accepted, collector.Offer(0, first, count, outcomes.Sum(o => o.Samples), outcomes.Sum(o => o.LossSum), outcomes.Sum(o => o.Correct), gradient));
        }
        Assert.True(collector.IsComplete);
        var reduced = Mlp.Create<float>(784, [40], 10, seed: 3);
        collector.WriteMeanTo(reduced);
        var actual = new float[reduced.ParameterCount];
        reduced.CopyGradientsTo(actual);
        Assert.Equal(expected, actual);
        Assert.Equal(loss, collector.LossSum);
        Assert.Equal(correct, collector.Correct);
    }

    [Fact]
    public void The_collector_should_refuse_pieces_it_cannot_add_exactly()
    {
        var plan = new ReductionPlan(4, 2);
        var collector = new StepCollector(0, [8, 8, 8, 8], 3, plan);
        float[] g = [1, 2, 3];
        Assert.Equal(ShardVerdict.Malformed, collector.Offer(0, 1, 2, 16, 1, 1, g));   // does not start a block
        Assert.Equal(ShardVerdict.Malformed, collector.Offer(0, 0, 2, 15, 1, 1, g));   // wrong sample count
        Assert.Equal(ShardVerdict.Accepted, collector.Offer(0, 0, 1, 8, 1, 1, g));
        Assert.Equal(ShardVerdict.Duplicate, collector.Offer(0, 0, 2, 16, 1, 1, g));   // overlaps shard 0
        Assert.Equal(ShardVerdict.UnknownShard, collector.Offer(0, 3, 2, 16, 1, 1, g));
        Assert.Equal(ShardVerdict.Accepted, collector.Offer(0, 2, 2, 16, 1, 1, g));
        Assert.False(collector.IsComplete);
        Assert.Equal(ShardVerdict.Accepted, collector.Offer(0, 1, 1, 8, 1, 1, g));
        Assert.True(collector.IsComplete);
        Assert.Equal(32, collector.Samples);
    }

    [Fact]
    public void Single_process_blocks_should_give_the_same_bits_one_pass_or_on_replicas()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 300, testLimit: 1).Train;
        var order = ShardPlan.EpochOrder(1, 1, data.Count);
        float[] Gradient(int replicas, bool onePass)
        {
            var model = Mlp.Create<float>(784, [64, 32], 10, seed: 4);
            var (loss, correct) = new ShardedStep(model, shards: 5, replicas, seed: 1, onePass, blocks: 2).Run(data, order, batchStart: 17, batchCount: 203, step: 0);
            var g = new float[model.ParameterCount];
            model.CopyGradientsTo(g);
            return [.. g, (float)loss, correct];
        }
        var one = Gradient(1, onePass: false);
        Assert.Equal(one, Gradient(2, onePass: false));
        Assert.Equal(one, Gradient(1, onePass: true));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    public void A_batch_with_empty_shards_should_reduce_as_a_plain_loop_over_its_shards_would(int replicas, bool onePass)
    {
        // 3 samples over 5 shards: shards 0, 2 and 4 hold one each, 1 and 3 are empty (the one-pass
        // piece spans them). Expected: each shard alone, added left to right by a loop written here, / 3.
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 50, testLimit: 1).Train;
        var order = ShardPlan.EpochOrder(1, 2, data.Count);
        const int shards = 5, batchStart = 7, batchCount = 3;
        var reference = new ShardTrainer(Mlp.Create<float>(784, [12], 10, seed: 5), seed: 1);
        float[]? sum = null;
        double loss = 0;
        for (int s = 0; s < shards; s++)
        {
            var (start, count) = ShardPlan.Range(batchCount, shards, s);
            if (count == 0) continue;
            loss += reference.Run(data, order.AsSpan(batchStart + start, count), step: 0).LossSum;
            var g = new float[reference.Model.ParameterCount];
            reference.Model.CopyGradientsTo(g);
            if (sum is null) sum = g;
            else for (int k = 0; k < g.Length; k++) sum[k] += g[k];
        }
        var expected = sum!.Select(v => v / batchCount).ToArray();

        var model = Mlp.Create<float>(784, [12], 10, seed: 5);
        var step = new ShardedStep(model, shards, replicas, seed: 1, onePass);
        for (int repeat = 0; repeat < 2; repeat++) // the collector is reused from step to step
        {
            var (actualLoss, _) = step.Run(data, order, batchStart, batchCount, step: 0);
            var actual = new float[model.ParameterCount];
            model.CopyGradientsTo(actual);
            Assert.Equal(expected, actual);
            Assert.Equal(loss, actualLoss);
        }
    }

    [Fact]
    public void A_piece_held_in_a_model_should_add_the_same_bits_as_its_copy()
    {
        var plan = new ReductionPlan(4, 2);
        var model = Mlp.Create<float>(784, [8], 10, seed: 6);
        var values = Enumerable.Range(0, model.ParameterCount).Select(k => MathF.Sin(k) * 1e3f).ToArray();
        var small = values.Select(v => v * 1e-7f).ToArray();
        float[] Reduce(bool inModel)
        {
            var collector = new StepCollector(3, [8, 8, 8, 8], model.ParameterCount, plan);
            collector.Begin(4, [8, 8, 8, 8]);
            foreach (var (first, count, g) in new[] { (0, 2, values), (2, 1, small), (3, 1, small) })
            {
                if (!inModel) Assert.Equal(ShardVerdict.Accepted, collector.Offer(4, first, count, 8 * count, 1, 1, (float[])g.Clone()));
                else
                {
                    model.LoadGradients(g);
                    collector.Offer(4, first, count, 8 * count, 1, 1, model);
                }
            }
            var target = Mlp.Create<float>(784, [8], 10, seed: 6);
            collector.WriteMeanTo(target);
            var result = new float[target.ParameterCount];
            target.CopyGradientsTo(result);
            return result;
        }
        // ((values) + (small + small)) / 32: the block order, not left to right.
        var expected = values.Zip(small, (v, e) => (v + (e + e)) / 32).ToArray();
        Assert.Equal(expected, Reduce(inModel: false));
        Assert.Equal(expected, Reduce(inModel: true));
    }

    [Fact]
    public void A_local_piece_out_of_order_should_be_a_programming_error()
    {
        var model = Mlp.Create<float>(784, [8], 10, seed: 6);
        var collector = new StepCollector(0, [8, 8], model.ParameterCount);
        var e = Assert.Throws<InvalidOperationException>(() => collector.Offer(0, 1, 1, 8, 1, 1, model));
        Assert.Contains("in order", e.Message);
    }
}
