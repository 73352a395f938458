using System.Text.Json;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>
/// The convolutional presets, ours against PyTorch on the same net and recipe, single process, same
/// machine and run, interleaved. PyTorch runs with the environment's OpenBLAS override removed (its
/// own kernel; its convolutions go through oneDNN) and at its best thread count, found by a first
/// round over 1 and 2 threads. One epoch over a subset per round; samples/s of the epoch and peak
/// resident memory, ratios both ways.
/// </summary>
public static class CnnBenchmark
{
    private sealed record Round(double SamplesPerSecond, double PeakRssMb);

    public static void Print(string root, string dll, ModelPreset preset, int trainLimit, int rounds)
    {
        string data = Path.Combine(root, "data", "mnist"), tmp = Directory.CreateTempSubdirectory("bench-cnn-").FullName;
        var torchByThreads = new[] { 1, 2 }.ToDictionary(t => t, t => Torch(root, data, preset, trainLimit, t));
        int best = torchByThreads.MaxBy(p => p.Value.SamplesPerSecond).Key;
        var (ours, torch) = (new List<Round>(), new List<Round>());
        for (int r = 0; r < rounds; r++)
        {
            ours.Add(Ours(dll, data, tmp, preset, trainLimit));
            torch.Add(Torch(root, data, preset, trainLimit, best));
        }
        double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a[a.Length / 2]; }
        double o = Median(ours.Select(x => x.SamplesPerSecond)), t = Median(torch.Select(x => x.SamplesPerSecond));
        double paired = Median(ours.Zip(torch, (a, b) => a.SamplesPerSecond / b.SamplesPerSecond));
        Console.WriteLine($"## {preset.Name} ({preset.Summary}): single process, 1 epoch of {trainLimit:N0} images, batch 128, {rounds} interleaved rounds");
        Console.WriteLine($"PyTorch thread calibration: {string.Join(", ", torchByThreads.Select(p => $"{p.Key} thread(s) {p.Value.SamplesPerSecond:N0} samples/s"))}; best: {best}");
        Console.WriteLine("| trainer | median samples/s | rounds | peak RSS MB |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| ours (2 threads) | {o:N0} | {string.Join(" / ", ours.Select(x => $"{x.SamplesPerSecond:N0}"))} | {Median(ours.Select(x => x.PeakRssMb)):N0} |");
        Console.WriteLine($"| PyTorch ({best} thread(s)) | {t:N0} | {string.Join(" / ", torch.Select(x => $"{x.SamplesPerSecond:N0}"))} | {Median(torch.Select(x => x.PeakRssMb)):N0} |");
        Console.WriteLine($"ours / PyTorch: **{o / t:F2}×** of medians, **{paired:F2}×** median of paired rounds (PyTorch / ours: {t / o:F2}× / {1 / paired:F2}×)");
        Console.WriteLine();
        Directory.Delete(tmp, true);
    }

    private static Round Ours(string dll, string data, string tmp, ModelPreset preset, int trainLimit)
    {
        string outDir = Path.Combine(tmp, "ours");
        ChildProcess.Run("dotnet", [dll, "train", "--workers", "0", "--model", preset.Name, "--epochs", "1", "--train-limit", trainLimit.ToString(), "--test-limit", "1000",
            "--data", data, "--out", outDir, "--plain"], null);
        using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        return new Round(m.RootElement.GetProperty("epochs")[0].GetProperty("samples_per_second").GetDouble(), m.RootElement.GetProperty("peak_resident_mb").GetDouble());
    }

    private static Round Torch(string root, string data, ModelPreset preset, int trainLimit, int threads)
    {
        string output = ChildProcess.Run(TorchBaseline.Python, [Path.Combine(root, "bench", "pytorch", "cnn.py"), "--data", data, "--model", preset.Name, "--epochs", "1",
            "--train-limit", trainLimit.ToString(), "--threads", threads.ToString()], TorchBaseline.Environment("native", threads, threads, Path.Combine(root, "bench", "pytorch")));
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        return new Round(m.RootElement.GetProperty("epochs")[0].GetProperty("samples_per_second").GetDouble(), m.RootElement.GetProperty("peak_rss_mb").GetDouble());
    }
}
