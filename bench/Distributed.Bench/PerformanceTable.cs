using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distributed.Bench;

/// <summary>
/// The one table the performance issue asks for: our trainer against PyTorch's best single-process
/// setting and against DDP (gloo) at world 2 and 4, on the default recipe (784-256-128-10, batch
/// 128, Adam 0.002 with cosine decay, 3 epochs of full MNIST), fresh processes, rounds interleaved,
/// medians. Then the 940 KB exchange latency, and a real multi-process run for a worker's memory.
/// </summary>
public static class PerformanceTable
{
    private const double Target = 0.975;

    /// <summary>One run's figures.</summary>
    private sealed record Run(double[] EpochSeconds, double[] EpochAccuracy, double LastEpochSamplesPerSecond, int Gen2LastEpoch, int StepsPerEpoch,
        double PeakRssMb, string? Hash)
    {
        public double AllEpochsSamplesPerSecond => 60000.0 * EpochSeconds.Length / EpochSeconds.Sum();

        /// <summary>Training seconds until the end of the first epoch whose test accuracy reaches the target (null: not reached).</summary>
        public double? SecondsToTarget
        {
            get
            {
                double t = 0;
                for (int e = 0; e < EpochSeconds.Length; e++)
                {
                    t += EpochSeconds[e];
                    if (EpochAccuracy[e] >= Target) return t;
                }
                return null;
            }
        }
    }

    private sealed record Contender(string Name, string? ComparedWith, Func<string, Run> Start);

    public static void Print(string root, string coordinatorDll, int rounds, int epochs)
    {
        string data = Path.Combine(root, "data", "mnist");
        const string python = "/usr/bin/python3";
        var contenders = new List<Contender>
        {
            new("ours, single process (2 cores)", "PyTorch, best setting (1 thread, OpenBLAS 2)", tmp => Ours(coordinatorDll, data, tmp, 0, epochs)),
            new("PyTorch, best setting (1 thread, OpenBLAS 2)", null, _ => Torch(python, root, data, epochs)),
            new("ours, 2 workers (simulation, exact)", "PyTorch DDP gloo, world 2", tmp => Ours(coordinatorDll, data, tmp, 2, epochs)),
            new("ours, 2 workers, --wire bf16 (not exact)", "PyTorch DDP gloo, world 2", tmp => Ours(coordinatorDll, data, tmp, 2, epochs, "--wire", "bf16") with { Hash = null }),
            new("PyTorch DDP gloo, world 2", null, _ => Ddp(python, root, data, 2, epochs)),
            new("ours, 4 workers (simulation, exact)", "PyTorch DDP gloo, world 4", tmp => Ours(coordinatorDll, data, tmp, 4, epochs)),
            new("PyTorch DDP gloo, world 4", null, _ => Ddp(python, root, data, 4, epochs)),
        };
        var runs = contenders.ToDictionary(c => c.Name, _ => new List<Run>());
        string tmp = Directory.CreateTempSubdirectory("bench-table-").FullName;
        for (int round = 1; round <= rounds; round++)
            foreach (var c in contenders)
            {
                var r = c.Start(tmp);
                runs[c.Name].Add(r);
                Console.WriteLine($"  round {round}: {c.Name,-48} {r.LastEpochSamplesPerSecond,9:N0} samples/s (last epoch), to {Target:P1}: {Format(r.SecondsToTarget)}");
            }
        Directory.Delete(tmp, true);

        double Median(IEnumerable<double> xs) { var s = xs.Order().ToArray(); return s[s.Length / 2]; }
        double? MedianOrNull(IEnumerable<double?> xs) => xs.Any(x => x is null) ? null : Median(xs.Select(x => x!.Value));
        double Steady(string name) => Median(runs[name].Select(r => r.LastEpochSamplesPerSecond));

        Console.WriteLine();
        Console.WriteLine($"## Default recipe, {epochs} epochs of full MNIST, medians of {rounds} interleaved rounds");
        Console.WriteLine();
        Console.WriteLine($"| trainer | samples/s, last epoch | samples/s, all epochs | ratio of medians (samples/s, last epoch) | median of the {rounds} rounds' ratios | s to {Target:P1} test accuracy | ratio (time to accuracy) | final test accuracy | gen-2 GCs per step, last epoch | peak RSS per process |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in contenders)
        {
            var rs = runs[c.Name];
            double? toTarget = MedianOrNull(rs.Select(r => r.SecondsToTarget));
            string ratio = c.ComparedWith is null ? "" : $"**{Steady(c.Name) / Steady(c.ComparedWith):F2}×** {c.ComparedWith.Split(',')[0].Replace("PyTorch", "vs PyTorch")}";
            double? theirs = c.ComparedWith is null ? null : MedianOrNull(runs[c.ComparedWith].Select(r => r.SecondsToTarget));
            string timeRatio = c.ComparedWith is null || toTarget is null || theirs is null ? "" : $"{theirs / toTarget:F2}× faster";
            // Each round runs every contender back to back, so a round's ratio compares runs made under the same machine load.
            string paired = c.ComparedWith is null ? "" : $"{Median(rs.Zip(runs[c.ComparedWith], (o, t) => o.LastEpochSamplesPerSecond / t.LastEpochSamplesPerSecond)):F2}×";
            string gc = rs[0].Gen2LastEpoch < 0 ? "n/a" : $"{Median(rs.Select(r => (double)r.Gen2LastEpoch / r.StepsPerEpoch)):F4} ({Median(rs.Select(r => (double)r.Gen2LastEpoch)):F0} in {rs[0].StepsPerEpoch} steps)";
            Console.WriteLine($"| {c.Name} | {Steady(c.Name):N0} | {Median(rs.Select(r => r.AllEpochsSamplesPerSecond)):N0} | {ratio} | {paired} | {Format(toTarget)} | {timeRatio} | " +
                $"{Median(rs.Select(r => r.EpochAccuracy[^1])):P2} | {gc} | {Median(rs.Select(r => r.PeakRssMb)):N0} MB |");
        }
        var hashes = contenders.SelectMany(c => runs[c.Name]).Select(r => r.Hash).OfType<string>().Distinct().ToList();
        Console.WriteLine();
        Console.WriteLine(hashes.Count == 1
            ? $"Exact mode: every exact run of ours (single process, 2 and 4 workers, all rounds) ended with final_weights_sha256 {hashes[0]}."
            : $"Exact mode VIOLATED: our runs ended with {hashes.Count} different hashes: {string.Join(", ", hashes)}");
        Console.WriteLine("Ratios are ours ÷ theirs for samples/s and theirs ÷ ours for time to accuracy (above 1: ours is faster). Peak RSS: the whole simulation is one process for ours; per rank for DDP.");
        Console.WriteLine();
    }

    private static string Format(double? seconds) => seconds is null ? "not reached" : $"{seconds:F2}";

    private static Run Ours(string dll, string data, string tmp, int workers, int epochs, params string[] more)
    {
        string outDir = Path.Combine(tmp, $"ours-{workers}");
        ChildProcess.Run("dotnet", [dll, "train", "--workers", workers.ToString(), "--epochs", epochs.ToString(), "--data", data, "--out", outDir, "--plain", .. more], null);
        using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var e = m.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        int steps = (60000 + 127) / 128;
        return new Run(e.Select(x => x.GetProperty("train_seconds").GetDouble()).ToArray(), e.Select(x => x.GetProperty("test_accuracy").GetDouble()).ToArray(),
            e[^1].GetProperty("samples_per_second").GetDouble(), e[^1].GetProperty("gen2_collections").GetInt32(), steps,
            m.RootElement.GetProperty("peak_resident_mb").GetDouble(), m.RootElement.GetProperty("final_weights_sha256").GetString());
    }

    private static Run Torch(string python, string root, string data, int epochs)
    {
        string output = ChildProcess.Run(python, [Path.Combine(root, "bench", "pytorch", "mlp.py"), "--data", data, "--epochs", epochs.ToString(), "--threads", "1"],
            new() { ["OPENBLAS_NUM_THREADS"] = "2", ["OMP_NUM_THREADS"] = "1" });
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var e = m.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        return new Run(e.Select(x => x.GetProperty("seconds").GetDouble()).ToArray(), e.Select(x => x.GetProperty("test_accuracy").GetDouble()).ToArray(),
            e[^1].GetProperty("samples_per_second").GetDouble(), -1, 469, m.RootElement.GetProperty("peak_rss_mb").GetDouble(), null);
    }

    private static Run Ddp(string python, string root, string data, int world, int epochs)
    {
        string output = ChildProcess.Run(python, [Path.Combine(root, "bench", "pytorch", "ddp.py"), "--data", data, "--world", world.ToString(), "--epochs", epochs.ToString()],
            new() { ["OPENBLAS_NUM_THREADS"] = "1", ["OMP_NUM_THREADS"] = "1", ["PYTHONPATH"] = Path.Combine(root, "bench", "pytorch") });
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var e = m.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        return new Run(e.Select(x => x.GetProperty("seconds").GetDouble()).ToArray(), e.Select(x => x.GetProperty("test_accuracy").GetDouble()).ToArray(),
            e[^1].GetProperty("samples_per_second").GetDouble(), -1, 468, m.RootElement.GetProperty("peak_rss_mb_per_rank").GetDouble(), null);
    }

    /// <summary>A real multi-process run (deploy/local-cluster.sh, one epoch of full MNIST): each worker process's peak resident memory, from its log.</summary>
    public static void WorkerMemory(string root, int workers)
    {
        string logs = Directory.CreateTempSubdirectory("bench-rss-").FullName;
        string output = ChildProcess.Run("bash", [Path.Combine(root, "deploy", "local-cluster.sh"), workers.ToString(), "--epochs", "1", "--plain", "--out", Path.Combine(logs, "run")],
            new() { ["LOG_DIR"] = logs, ["NO_BUILD"] = "1" });
        var peaks = Directory.GetFiles(logs, "worker*.log")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"peak resident memory (\d+) MB").Select(m => int.Parse(m.Groups[1].Value))).ToList();
        var speed = Regex.Match(output, @"epoch 1/1 .*?([\d,]+) samples/s");
        Console.WriteLine($"## Real processes: coordinator and {workers} worker processes on loopback (deploy/local-cluster.sh), 1 epoch of full MNIST");
        Console.WriteLine(peaks.Count == 0 ? "no worker reported its memory (see the logs)" :
            $"worker peak resident memory: {string.Join(", ", peaks.Select(p => $"{p} MB"))} (target ≤ 250 MB); " +
            $"training speed {(speed.Success ? speed.Groups[1].Value : "?")} samples/s");
        Console.WriteLine();
        Directory.Delete(logs, true);
    }
}
