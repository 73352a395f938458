using System.Text.Json;
using Distributed.Coordinator.Training;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cluster;

/// <summary>deploy/local-cluster.sh: real processes, a coordinator and workers over loopback TCP.</summary>
public class LocalClusterScriptSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("local-cluster-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private (int Code, string Output) Script(params string[] args) =>
        DeployScript.Run("local-cluster.sh", args, new Dictionary<string, string> { ["LOG_DIR"] = Path.Combine(_folder, "logs"), ["TIMEOUT"] = "240" },
            TimeSpan.FromMinutes(5));

    [Fact]
    public void Two_worker_processes_should_train_to_the_single_process_hash()
    {
        string outDir = Path.Combine(_folder, "out");
        var (code, output) = Script("2", "--epochs", "1", "--train-limit", "1024", "--test-limit", "200", "--hidden", "32", "--out", outDir);
        Assert.True(code == 0, output);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var root = metrics.RootElement;
        Assert.StartsWith("multi-process cluster", root.GetProperty("mode").GetString());
        var workers = root.GetProperty("extra").GetProperty("workers").EnumerateArray().ToArray();
        Assert.Equal(2, workers.Length);
        Assert.All(workers, w => Assert.True(w.GetProperty("shards_done").GetInt32() > 0));
        Assert.Equal(1024 / 128 * 4, workers.Sum(w => w.GetProperty("shards_done").GetInt32()));

        var options = new TrainingOptions { Epochs = 1, TrainLimit = 1024, TestLimit = 200, Hidden = [32] };
        string local = new LocalTrainer(options, TestData.Subset(1024, 200), _ => { }).Run().FinalWeightsSha256;
        Assert.Equal(local, root.GetProperty("final_weights_sha256").GetString());
        Assert.True(File.Exists(Path.Combine(_folder, "logs", "worker-1.log")));
        string workerLog = File.ReadAllText(Path.Combine(_folder, "logs", "worker-2.log"));
        Assert.Contains("joined run", workerLog);
        Assert.Matches(@"epoch 1: \d+ shards, [0-9.]+ ms each", workerLog);
    }

    [Fact]
    public void A_missing_worker_count_should_print_usage_and_fail()
    {
        var (code, output) = Script("zero");
        Assert.Equal(1, code);
        Assert.Contains("usage: deploy/local-cluster.sh N", output);
    }

    [Fact]
    public void Bad_training_options_should_fail_with_the_coordinators_message_and_code()
    {
        var (code, output) = Script("1", "--epochs", "0");
        Assert.Equal(1, code);
        Assert.Contains("--epochs must be at least 1", output);
    }
}
