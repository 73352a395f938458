using System.Text.Json;
using System.Text.RegularExpressions;
using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Shared.Data;
using Distributed.Shared.Models;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cli;

/// <summary>
/// Convolutional models (conv, pool, dropout, flatten) through everything the MLP goes through: the
/// same bits for any worker count, thread count and real processes; model files with PyTorch's
/// names and shapes; ONNX checked by OnnxRuntime on all 10,000 test images; the presets.
/// </summary>
public sealed class ConvolutionalModelSpecs : IDisposable
{
    // Small enough for seconds on 2 cores, and every new layer kind in it (dropout twice: two salts).
    private const string Arch = "conv4k3p1,relu,maxpool2,dropout0.25,conv6k3s2,relu,flatten,dense16,relu,dropout0.5,dense10";

    private readonly string _folder = Directory.CreateTempSubdirectory("cnn-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private static readonly string[] Small = ["--arch", Arch, "--train-limit", "640", "--test-limit", "200", "--epochs", "2", "--batch-size", "64", "--plain"];

    private static (int Code, string Output, string Error) Run(params string[] args) => InProcess.Run(args);

    private static string Hash(string folder) => InProcess.FinalHash(folder);

    private string Trained(string name, params string[] args)
    {
        string folder = Path.Combine(_folder, name);
        var run = Run(["train", "--out", folder, .. Small, .. args]);
        Assert.True(run.Code == 0, run.Error);
        return folder;
    }

    [Fact]
    public void A_cnn_should_train_to_the_same_bits_on_0_1_2_and_3_workers_and_on_1_or_2_threads()
    {
        string single = Hash(Trained("w0", "--workers", "0"));
        Assert.Equal(single, Hash(Trained("w0t1", "--workers", "0", "--threads", "1")));
        foreach (var workers in new[] { "1", "2", "3" })
            Assert.Equal(single, Hash(Trained($"w{workers}", "--workers", workers)));
    }

    [Fact]
    public void A_cnn_should_train_to_the_same_bits_in_real_processes()
    {
        string expected = Hash(Trained("single", "--workers", "0"));
        string cluster = Path.Combine(_folder, "processes");
        using var coordinator = ChildNode.Start("Coordinator", ["coordinator", "--port", "0", "--min-workers", "2", "--out", cluster, .. Small]);
        coordinator.WaitFor("listening at akka.tcp://", TimeSpan.FromSeconds(60));
        string address = Regex.Match(coordinator.Output, @"listening at (akka\.tcp://\S+)").Groups[1].Value;
        using var first = ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", "w1");
        using var second = ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", "w2");
        Assert.Equal(0, coordinator.WaitForExit(TimeSpan.FromSeconds(120)));
        Assert.Contains($"final_weights_sha256 {expected}", coordinator.Output);
        Assert.Contains("conv4k3p1,relu,maxpool2", first.Output.Replace(" → ", ","));
    }

    [Fact]
    public void The_model_file_should_hold_pytorch_names_and_shapes_and_load_back_to_the_same_outputs()
    {
        string folder = Trained("files", "--workers", "0");
        string path = Path.Combine(folder, "model.safetensors");
        var (model, description) = ModelFile.Load(path);
        Assert.Equal(Arch, description.LayersText);
        // nn.Conv2d(1, 4, 3, padding=1): [4, 1, 3, 3]; nn.Conv2d(4, 6, 3, stride=2): [6, 4, 3, 3]; 14×14 → 6×6×6 = 216 into nn.Linear.
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.4.weight", "layers.4.bias", "layers.7.weight", "layers.7.bias", "layers.10.weight", "layers.10.bias"],
            model.Parameters.Select(p => p.Name));
        Assert.Equal([[4, 1, 3, 3], [4], [6, 4, 3, 3], [6], [16, 216], [16], [10, 16], [10]], model.Parameters.Select(p => p.Shape));
        var evaluated = Run("evaluate", "--model", path, "--test-limit", "200");
        Assert.True(evaluated.Code == 0, evaluated.Error);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")));
        double accuracy = metrics.RootElement.GetProperty("epochs").EnumerateArray().Last().GetProperty("test_accuracy").GetDouble();
        Assert.Contains($"{accuracy * 100:F2} %", evaluated.Output);
    }

    [Fact]
    public void The_onnx_export_should_give_our_logits_on_all_10000_test_images()
    {
        string folder = Trained("onnx", "--workers", "0");
        string path = Path.Combine(folder, "model.safetensors"), onnx = Path.Combine(_folder, "model.onnx");
        var exported = Run("export", "--model", path, "--onnx", onnx);
        Assert.True(exported.Code == 0, exported.Error);

        var (ours, _) = ModelFile.Load(path);
        var test = MnistLoader.Load(RepositoryRoot.BundledData).Test;
        Assert.Equal(10_000, test.Count);
        var (worst, agree) = OnnxComparison.Compare(onnx, ours, test);
        Assert.True(worst < 1e-3, $"largest logit difference {worst}");
        Assert.True(agree >= 9_995, $"the predicted class agrees on {agree} of 10,000 images");
    }

    [Fact]
    public void A_preset_should_bring_its_layers_and_recipe_and_let_options_override_it()
    {
        string folder = Path.Combine(_folder, "lenet");
        var run = Run("train", "--workers", "0", "--model", "lenet5", "--epochs", "1", "--train-limit", "256", "--test-limit", "100", "--plain", "--out", folder);
        Assert.True(run.Code == 0, run.Error);
        Assert.Contains("optimizer adam lr 0.002 cosine", run.Output);
        Assert.Contains("1 epoch(s)", run.Output);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")));
        Assert.Equal(ModelPreset.LeNet5.Layers, metrics.RootElement.GetProperty("layers").GetString());

        var both = Run("train", "--workers", "0", "--model", "cnn", "--arch", "dense10", "--out", Path.Combine(_folder, "both"));
        Assert.Equal(ExitCodes.InvalidArguments, both.Code);
        Assert.Contains("--model and --arch both describe the model", both.Error);
    }

    [Fact]
    public void A_frame_too_small_for_a_peer_replicas_state_should_be_refused_up_front()
    {
        // A replica joining under --exchange peers is sent the weights and Adam's moments in one message: 14.4 MB for the CNN.
        var small = Run("train", "--workers", "2", "--exchange", "peers", "--model", "cnn", "--frame-size", "8000000", "--train-limit", "256", "--out", Path.Combine(_folder, "small"));
        Assert.Equal(ExitCodes.InvalidArguments, small.Code);
        Assert.Contains("weights with the optimizer's state (what a replica is sent under --exchange peers) need 14,464,120 bytes", small.Error);
        // The default frame holds it.
        Assert.True(16_000_000 >= 14_464_120 && Shared.Cluster.ClusterSettings.DefaultMaximumFrameSize == 16_000_000);
    }

    [Fact]
    public void The_presets_should_be_the_published_networks_with_their_parameter_counts()
    {
        Assert.Equal(61_706, new TrainingOptions { Architecture = ModelPreset.LeNet5.Layers }.ParameterCount(784, 10));
        Assert.Equal(1_199_882, new TrainingOptions { Architecture = ModelPreset.Cnn.Layers }.ParameterCount(784, 10));
        Assert.Empty(new TrainingOptions { Architecture = ModelPreset.Cnn.Layers }.Validate());
        Assert.Equal((12, "adam"), (ModelPreset.Cnn.Epochs, ModelPreset.Cnn.Optimizer));
        // The CNN's weights travel in one message: the default frame size holds them, so a cluster run needs no --frame-size.
        Distributed.Coordinator.Cluster.CoordinatorNode.CheckFrameSize(1_199_882, Shared.Cluster.ClusterSettings.DefaultMaximumFrameSize);
    }
}
