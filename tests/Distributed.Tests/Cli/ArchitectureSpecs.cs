using System.Text.Json;
using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Shared.Data;
using Distributed.Shared.Models;

namespace Distributed.Tests.Cli;

/// <summary>A model given as layers (--arch) flows through training, the files, evaluate and export.</summary>
public sealed class ArchitectureSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("arch-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private static readonly string[] Small = ["--train-limit", "640", "--test-limit", "200", "--epochs", "1", "--batch-size", "64", "--plain"];

    private static (int Code, string Output, string Error) Run(params string[] args) => InProcess.Run(args);

    private static string Hash(string folder) => InProcess.FinalHash(folder);

    [Fact]
    public void The_mlp_written_as_layers_should_train_to_the_same_bits_as_the_hidden_preset()
    {
        string hidden = Path.Combine(_folder, "hidden"), layers = Path.Combine(_folder, "layers");
        var a = Run(["train", "--workers", "0", "--hidden", "32", "--out", hidden, .. Small]);
        var b = Run(["train", "--workers", "0", "--arch", "dense32,relu,dense10", "--out", layers, .. Small]);
        Assert.True(a.Code == 0 && b.Code == 0, a.Error + b.Error);
        Assert.Equal(Hash(hidden), Hash(layers));
        Assert.Contains("model: 784-32-10", b.Output);
    }

    [Fact]
    public void Any_stack_should_train_in_the_cluster_like_in_one_process_and_export_to_onnx()
    {
        // Not an MLP: a linear bottleneck (two dense layers in a row).
        const string arch = "dense48,relu,dense24,dense10";
        string single = Path.Combine(_folder, "single"), cluster = Path.Combine(_folder, "cluster");
        var one = Run(["train", "--workers", "0", "--arch", arch, "--out", single, .. Small]);
        var two = Run(["train", "--workers", "2", "--arch", arch, "--out", cluster, .. Small]);
        Assert.True(one.Code == 0 && two.Code == 0, one.Error + two.Error);
        Assert.Equal(Hash(single), Hash(cluster));
        Assert.Contains("model: 784 → dense48 → relu → dense24 → dense10", one.Output);
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(single, "metrics.json"))))
            Assert.Equal(arch, metrics.RootElement.GetProperty("layers").GetString());

        string model = Path.Combine(single, "model.safetensors"), onnx = Path.Combine(_folder, "model.onnx");
        var evaluated = Run("evaluate", "--model", model, "--test-limit", "200");
        Assert.True(evaluated.Code == 0, evaluated.Error);
        Assert.Contains("784 → dense48 → relu → dense24 → dense10", evaluated.Output);
        var exported = Run("export", "--model", model, "--onnx", onnx);
        Assert.True(exported.Code == 0, exported.Error);

        var (ours, _) = ModelFile.Load(model);
        var (worst, _) = OnnxComparison.Compare(onnx, ours, MnistLoader.Load(RepositoryRoot.BundledData, 1, 1000).Test);
        Assert.True(worst < 1e-3, $"largest logit difference {worst}");
    }

    [Theory]
    [InlineData("dense32,sigmoid,dense10", "--arch: 'sigmoid' is not a layer")]
    [InlineData("dense32,relu,dense7", "the last layer gives 7 outputs; MNIST needs 10")]
    [InlineData("dense16384,relu,dense16384,relu,dense10", "parameters for MNIST, more than 100,000,000")]
    public void A_bad_architecture_should_be_refused_before_training(string arch, string expected)
    {
        var (code, _, error) = Run(["train", "--workers", "0", "--arch", arch, "--out", Path.Combine(_folder, "bad"), .. Small]);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains(expected, error);
        Assert.False(Directory.Exists(Path.Combine(_folder, "bad", "metrics.json")));
    }

    [Fact]
    public void Hidden_and_arch_together_should_be_refused()
    {
        var (code, _, error) = Run(["train", "--workers", "0", "--hidden", "32", "--arch", "dense32,relu,dense10", "--out", Path.Combine(_folder, "both"), .. Small]);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains("--hidden and --arch both describe the model", error);
    }
}
