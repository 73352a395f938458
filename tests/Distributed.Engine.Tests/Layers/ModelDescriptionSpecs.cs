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
        Assert.Equal("4 → dense3 → dense2 → relu", other.ToString());
        Assert.Equal(4 * 3 + 3 + 3 * 2 + 2, other.ParameterCount);
        Assert.Equal(other.ParameterCount, other.Build<double>(1).ParameterCount);
        Assert.Equal(new ModelDescription(4, [new LayerSpec.Dense(3), new LayerSpec.Dense(2), new LayerSpec.Relu()]), other);
        Assert.NotEqual(mlp, other);
    }

    [Fact]
    public void The_text_form_should_read_back_as_the_same_description()
    {
        var mlp = ModelDescription.Mlp(784, [256, 128], 10);
        Assert.Equal("dense256,relu,dense128,relu,dense10", mlp.LayersText);
        Assert.Equal(mlp, ModelDescription.Parse(784, mlp.LayersText));
        // Spaces and case are forgiven; the parsed layers are the kinds the tokens name.
        var other = ModelDescription.Parse(12, " Dense5 , RELU,dense3,dense2 ");
        Assert.Equal(new ModelDescription(12, [new LayerSpec.Dense(5), new LayerSpec.Relu(), new LayerSpec.Dense(3), new LayerSpec.Dense(2)]), other);
        Assert.Equal(12 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2, other.ParameterCount);
    }

    [Theory]
    [InlineData("dense128,,dense10", "empty layer")]
    [InlineData("dense128,tanh,dense10", "'tanh' is not a layer; the layers are dense<width> (e.g. dense128), relu, conv<channels>k<kernel>")]
    [InlineData("conv32", "'conv32': a convolution is conv<channels>k<kernel>")]
    [InlineData("conv32k3p3", "'conv32k3p3': a convolution is conv<channels>k<kernel>")]
    [InlineData("conv0k3", "'conv0k3': a convolution")]
    [InlineData("maxpool0", "'maxpool0': maxpool takes a window size in 1–64")]
    [InlineData("dropout1", "'dropout1': dropout takes a rate in [0, 1)")]
    [InlineData("dropout-0.1", "'dropout-0.1': dropout takes a rate")]
    [InlineData("dense64,conv8k3,dense10", "layer 2 (conv8k3) cannot take its input of 64×1×1: a 3×3 kernel does not fit")]
    [InlineData("conv8k5,maxpool2,conv8k5,maxpool2,conv8k5,dense10", "layer 5 (conv8k5) cannot take its input of 8×4×4")]
    [InlineData("maxpool64,dense10", "layer 1 (maxpool64) cannot take its input of 1×28×28")]
    [InlineData("dense0", "'dense0': dense takes a width in 1–16,384")]
    [InlineData("dense99999", "'dense99999': dense takes a width in 1–16,384")]
    [InlineData("dense-3", "'dense-3': dense takes a width")]
    [InlineData("dense", "'dense': dense takes a width")]
    public void A_bad_description_should_be_refused_naming_the_token(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ModelDescription.Parse(784, text));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Layers_should_get_the_model_file_shapes_pytorch_gives_them()
    {
        var model = ModelDescription.Parse(6, "dense4,relu,dense3").Build<float>(seed: 1);
        // nn.Linear(6, 4).weight is [4, 6]; its bias [4].
        Assert.Equal([[4, 6], [4], [3, 4], [3]], model.Parameters.Select(p => p.Shape));
        Assert.All(model.Parameters, p => Assert.Equal(p.Count, p.Shape.Aggregate(1, (a, d) => a * d)));
    }

    [Fact]
    public void Convolutional_tokens_should_read_back_and_give_the_shapes_and_counts_pytorch_gives()
    {
        const string cnn = "conv32k3,relu,conv64k3,relu,maxpool2,dropout0.25,flatten,dense128,relu,dropout0.5,dense10";
        var model = ModelDescription.Parse(784, cnn);
        Assert.Equal(cnn, model.LayersText);
        Assert.Equal(new ImageShape(1, 28, 28), model.InputShape);
        // 28 − 3 + 1 = 26, 26 − 3 + 1 = 24, 24 / 2 = 12: 64·12·12 = 9216 into the dense layer.
        Assert.Equal([new(1, 28, 28), new(32, 26, 26), new(32, 26, 26), new(64, 24, 24), new(64, 24, 24), new(64, 12, 12), new(64, 12, 12),
            new(9216, 1, 1), new(128, 1, 1), new(128, 1, 1), new(128, 1, 1), new ImageShape(10, 1, 1)], model.Shapes);
        // Keras' mnist_cnn summary: 320 + 18,496 + 1,179,776 + 1,290.
        Assert.Equal(1_199_882, model.ParameterCount);
        Assert.Equal(1_199_882, model.Build<float>(seed: 1).ParameterCount);
        var lenet = ModelDescription.Parse(784, "conv6k5p2,relu,maxpool2,conv16k5,relu,maxpool2,flatten,dense120,relu,dense84,relu,dense10");
        Assert.Equal(61_706, lenet.ParameterCount);
        Assert.Equal(new ImageShape(16, 5, 5), lenet.Shapes[6]);
        // Stride and padding round-trip in the order conv<c>k<k>s<s>p<p>, defaults left out.
        Assert.Equal("conv8k3s2p1,conv4k3", ModelDescription.Parse(784, "CONV8K3S2P1, conv4k3s1p0").LayersText);
        Assert.Equal(new ImageShape(8, 14, 14), ModelDescription.Parse(784, "conv8k3s2p1").Shapes[1]);
        // A flat input that is not a square stays flat: only dense layers can read it.
        Assert.Equal(new ImageShape(12, 1, 1), ModelDescription.Parse(12, "dense3").InputShape);
    }

    [Fact]
    public void Convolution_weights_should_get_pytorch_names_and_shapes()
    {
        var model = ModelDescription.Parse(784, "conv6k5p2,relu,maxpool2,flatten,dense10").Build<float>(seed: 1);
        // nn.Conv2d(1, 6, 5).weight is [6, 1, 5, 5]; nn.Linear(6·14·14, 10).weight [10, 1176]. Flatten keeps its position (layers.3).
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.4.weight", "layers.4.bias"], model.Parameters.Select(p => p.Name));
        Assert.Equal([[6, 1, 5, 5], [6], [10, 1176], [10]], model.Parameters.Select(p => p.Shape));
    }
}
