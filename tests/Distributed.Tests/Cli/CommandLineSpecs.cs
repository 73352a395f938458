using System.Text.Json;
using Distributed.Coordinator;
using Distributed.Coordinator.Cli;
using Distributed.Shared.Layers;
using Distributed.Shared.Models;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cli;

public class CommandLineSpecs : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("run-").FullName;

    public void Dispose() => Directory.Delete(_out, true);

    private static (int Code, string Output, string Error) Run(params string[] args) => InProcess.Run(args);

    private string[] Small(string outFolder, params string[] more) =>
        ["train", "--train-limit", "4096", "--test-limit", "500", "--epochs", "2", "--hidden", "32", "--out", outFolder, .. more];

    [Fact]
    public void With_or_without_the_data_plane_and_with_blocks_the_hashes_should_match_the_single_process_ones()
    {
        string Hash(params string[] more)
        {
            var (code, output, error) = Run(["train", "--train-limit", "1024", "--test-limit", "100", "--epochs", "1", "--hidden", "32",
                "--plain", "--out", Path.Combine(_out, string.Join("", more)), .. more]);
            Assert.True(code == 0, error);
            Assert.Equal(more.Contains("--no-data-plane") || more.Contains("0") ? 0 : 1, output.Split('\n').Count(l => l.Contains("tensor data plane on 127.0.0.1:")));
            return output.Split('\n').Single(l => l.StartsWith("final test accuracy")).Split("final_weights_sha256 ")[1].Trim();
        }
        string single = Hash("--workers", "0");
        Assert.Equal(single, Hash("--workers", "2"));
        Assert.Equal(single, Hash("--workers", "2", "--no-data-plane"));
        string blocked = Hash("--workers", "0", "--blocks", "2");
        Assert.Equal(blocked, Hash("--workers", "2", "--blocks", "2"));
        Assert.Contains("(2 reduction blocks)", Run(["train", "--blocks", "2", "--train-limit", "256", "--epochs", "1", "--hidden", "8", "--workers", "0", "--out", Path.Combine(_out, "b")]).Output);
        Assert.Contains("--blocks must be between 1 and --shards (4) (got 5)", Run(["train", "--blocks", "5", "--out", Path.Combine(_out, "c")]).Error);

        // bfloat16 on the wire is the one inexact mode: it says so, and its hash is not the exact one.
        Assert.NotEqual(single, Hash("--workers", "2", "--wire", "bf16"));
        var (code, output, error) = Run(["train", "--workers", "2", "--wire", "bf16", "--train-limit", "256", "--epochs", "1", "--hidden", "8", "--out", Path.Combine(_out, "d")]);
        Assert.True(code == 0, error);
        Assert.Contains("bf16 wire (not exact)", output);
        Assert.Contains("bf16 wire (not exact)", File.ReadAllText(Path.Combine(_out, "d", "metrics.json")));
        Assert.Contains("--wire bf16 applies to cluster runs", Run(["train", "--workers", "0", "--wire", "bf16", "--out", Path.Combine(_out, "e")]).Error);
    }

    [Fact]
    public void Train_should_write_metrics_and_a_model_whose_hash_matches()
    {
        var (code, output, error) = Run(Small(_out));
        Assert.True(code == 0, error);
        Assert.Contains("epoch 2/2", output);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "metrics.json")));
        var root = metrics.RootElement;
        Assert.Equal(2, root.GetProperty("epochs").GetArrayLength());
        Assert.Equal(4096, root.GetProperty("data").GetProperty("train_samples").GetInt32());
        Assert.Equal(32, root.GetProperty("config").GetProperty("hidden")[0].GetInt32());
        double accuracy = root.GetProperty("final_test_accuracy").GetDouble();
        Assert.InRange(accuracy, 0.8, 1.0);
        // Measured, not assumed: garbage collections during each epoch's training, and this process's peak memory.
        foreach (var epoch in root.GetProperty("epochs").EnumerateArray())
        {
            int gen0 = epoch.GetProperty("gen0_collections").GetInt32(), gen2 = epoch.GetProperty("gen2_collections").GetInt32();
            Assert.InRange(gen2, 0, gen0);
        }
        Assert.InRange(root.GetProperty("peak_resident_mb").GetDouble(), 20, 4000);

        var model = Mlp.Create<float>(784, [32], 10, seed: 99);
        SafeTensorsFile.LoadInto(Path.Combine(_out, "model.safetensors"), model);
        Assert.Equal(root.GetProperty("final_weights_sha256").GetString(), WeightsHash.Sha256(model.FlattenValues()));

        // The pictures are real PNG files, and report.html carries them and the run's figures inline.
        foreach (var png in new[] { "loss.png", "accuracy.png", "throughput.png", "confusion.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(_out, png));
            Assert.True(bytes.Length > 5000, $"{png} is only {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        string html = File.ReadAllText(Path.Combine(_out, "report.html"));
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(html, "data:image/png;base64,").Count);
        Assert.Contains(root.GetProperty("final_weights_sha256").GetString()!, html);
        Assert.Contains($"{accuracy:P2}", html);
        Assert.DoesNotContain("src=\"http", html);
    }

    [Fact]
    public void The_same_seed_should_give_the_same_weights_and_another_seed_other_weights()
    {
        string Hash(string folder, params string[] more)
        {
            var (code, _, error) = Run(Small(folder, more));
            Assert.True(code == 0, error);
            using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")));
            return m.RootElement.GetProperty("final_weights_sha256").GetString()!;
        }
        string a = Hash(Path.Combine(_out, "a"));
        string b = Hash(Path.Combine(_out, "b"), "--threads", "1");
        string c = Hash(Path.Combine(_out, "c"), "--seed", "2");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [InlineData("--standby --elect --seed-node akka.tcp://distributed@127.0.0.1:1", "--standby never leads and --elect leads when oldest")]
    [InlineData("--elect", "--elect needs the coordinators' addresses, this node's own among them")]
    [InlineData("--elect --seed-node akka.tcp://distributed@127.0.0.1:1 --resume runs/x", "--elect resumes from the checkpoint in --out by itself")]
    [InlineData("--elect --seed-node akka.tcp://distributed@127.0.0.1:1 --epochs 0", "--epochs must be at least 1")]
    [InlineData("--standby", "a standby joins the active coordinator's cluster: give --seed-node")]
    public void Standby_and_elected_coordinators_should_refuse_what_they_cannot_do(string options, string message)
    {
        var (code, _, error) = Run(["coordinator", .. options.Split(' '), "--out", _out]);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains(message, error);
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs must be at least 1")]
    [InlineData("--batch-size", "2", "--batch-size (2) must be at least --shards (4)")]
    [InlineData("--optimizer", "rmsprop", "--optimizer must be one of sgd, nesterov, adam")]
    [InlineData("--hidden", "256,x", "'256,x' is not a comma-separated list")]
    [InlineData("--lr", "-1", "--lr must be a positive number")]
    public void Invalid_options_should_fail_with_a_message_naming_the_option(string option, string value, string message)
    {
        var (code, _, error) = Run("train", option, value, "--out", _out);
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains(message, error);
        Assert.False(File.Exists(Path.Combine(_out, "metrics.json")));
    }

    [Fact]
    public void An_unknown_option_should_fail_without_a_stack_trace()
    {
        var (code, _, error) = Run("train", "--epoch", "3");
        Assert.Equal(ExitCodes.InvalidArguments, code);
        Assert.Contains("--epoch", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void A_bad_data_folder_should_exit_2_and_name_the_problem()
    {
        var (code, _, error) = Run("train", "--data", Path.Combine(_out, "nothing-here"), "--out", _out);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("nothing-here: data folder not found", error);
    }

    [Fact]
    public void An_output_folder_that_cannot_be_written_should_exit_3_before_training()
    {
        string file = Path.Combine(_out, "a-file");
        File.WriteAllText(file, "");
        var (code, output, error) = Run("train", "--out", Path.Combine(file, "sub"));
        Assert.Equal(ExitCodes.OutputFailed, code);
        Assert.Contains("cannot write output", error);
        Assert.DoesNotContain("epoch", output);
    }

    [Fact]
    public void Gradcheck_should_print_the_table_and_exit_0()
    {
        var (code, output, _) = Run("gradcheck");
        Assert.Equal(0, code);
        Assert.Contains("Softmax (row-wise VJP): d/dx", output);
        Assert.Contains("caught (wrong, as expected)", output);
        Assert.Contains("all 36 checks passed", output);
        Assert.Contains("Conv2d 2@6×7→2, kernel 3, stride 2: d/dweight", output);
    }

    [Fact]
    public void Help_should_list_the_training_options()
    {
        var (code, output, _) = Run("train", "--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--epochs", "--batch-size", "--lr", "--optimizer", "--hidden", "--seed", "--data", "--out", "--shards" })
            Assert.Contains(option, output);
    }
}
