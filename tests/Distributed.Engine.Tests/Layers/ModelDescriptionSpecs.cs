using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Tests.Layers;

public sealed class ModelDescriptionSpecs
{
    [Fact]
    public void The_MLP_preset_should_build_the_layers_a_hand_written_MLP_has_with_the_same_initial_bits()
    {
        var built = ModelDescription.Mlp(784, [32, 16], 10).Build<float>(seed: 7);
        // By hand: Dense(784→32), ReLU, Dense(32→16), ReLU, Dense(16→10), He-initialised in that order.
        var rng = SeededRandom.For(7, "init");
        var byHand = new List<ILayer<float>>();
        foreach (var (inputs, outputs, relu) in new[] { (784, 32, true), (32, 16, true), (16, 10, false) })
        {
            var dense = new Dense<float>(inputs, outputs, $"layers.{byHand.Count}");
            dense.InitializeHe(rng);
            byHand.Add(dense);
            if (relu) byHand.Add(new Relu<float>());
        }
        var expected = new Sequential<float>(byHand);
        Assert.Equal(expected.FlattenValues(), built.FlattenValues());
        Assert.Equal(expected.Parameters.Select(p => p.Name), built.Parameters.Select(p => p.Name));
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"], built.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void A_description_should_count_its_parameters_and_name_its_shape()
    {
        var mlp = ModelDescription.Mlp(784, [256, 128], 10);
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, mlp.ParameterCount);
        Assert.Equal(mlp.ParameterCount, mlp.Build<float>(0).ParameterCount);
        Assert.Equal("784-256-128-10", mlp.ToString());
        Assert.Equal(10, mlp.Outputs);
        // Not an MLP (two dense layers in a row): named by its layers, and still built and counted.
        var other = new ModelDescription(4, [new LayerSpec.Dense(3), new LayerSpec.Dense(2), new LayerSpec.Relu()]);
        Assert.Equal("4 → dense 3 → dense 2 → relu", other.ToString());
        Assert.Equal(4 * 3 + 3 + 3 * 2 + 2, other.ParameterCount);
        Assert.Equal(other.ParameterCount, other.Build<double>(1).ParameterCount);
        Assert.Equal(new ModelDescription(4, [new LayerSpec.Dense(3), new LayerSpec.Dense(2), new LayerSpec.Relu()]), other);
        Assert.NotEqual(mlp, other);
    }
}
