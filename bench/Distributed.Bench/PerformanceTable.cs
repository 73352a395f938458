using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distributed.Bench;

/// <summary>
/// The one table the performance issues ask for: our trainer against PyTorch's best single-process
/// setting and against DDP (gloo) at world 2 and 4, on the default recipe (784-256-128-10, batch
/// 128, Adam 0.002 with cosine decay, 3 epochs of full MNIST), fresh processes, rounds interleaved,
/// medians. PyTorch runs at its best on this CPU (<see cref="TorchBaseline"/>): OpenBLAS override
/// removed, kernels and thread settings calibrated, the best measured in the same run. Then the
/// 940 KB exchange latency, and a real multi-process run for a worker's memory.
/// </summary>
public static class PerformanceTable
{
    private const double Target = 0.975;
    private const string BestTorch = "PyTorch, best of the settings above";

    /// <summary>One run's figures.</summary>
    private sealed record Run(double[] EpochSeconds, double[] EpochAccuracy, double LastEpochSamplesPerSecond, int Gen2LastEpoch, int StepsPerEpoch,
        double PeakRssMb, string? Hash, string Kernel)
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

    private sealed record Contender(string Name, string? ComparedWith, Func<string, Run> Start, double? TargetRatio = null);

    public static void Print(string root, string coordinatorDll, int rounds, int epochs)
    {
        string data = Path.Combine(root, "data", "mnist");
        Console.WriteLine($"CPU: {TorchBaseline.CpuDescription()}");
        Console.WriteLine($"Ours: our own packed GEMM, {Distributed.Shared.Numerics.Gemm.KernelName} micro-kernel (no BLAS).");
        Console.WriteLine();
        var torch = TorchBaseline.Calibrate(root, data);
        string ddpKernel = torch[0].Kernel;
        var contenders = new List<Contender> { new("ours, single process (2 cores)", BestTorch, tmp => Ours(coordinatorDll, data, tmp, 0, epochs), 1.3) };
        contenders.AddRange(torch.Select(s => new Contender(s.Name, null, _ => Torch(root, data, s, epochs))));
        contenders.AddRange(
        [
            new("ours, 2 workers (simulation, exact)", "PyTorch DDP gloo, world 2", tmp => Ours(coordinatorDll, data, tmp, 2, epochs), 1.5),
            new("ours, 2 workers, --wire bf16 (not exact)", "PyTorch DDP gloo, world 2", tmp => Ours(coordinatorDll, data, tmp, 2, epochs, "--wire", "bf16") with { Hash = null }),
            new("PyTorch DDP gloo, world 2", null, _ => Ddp(root, data, ddpKernel, 2, epochs)),
            new("ours, 4 workers (simulation, exact)", "PyTorch DDP gloo, world 4", tmp => Ours(coordinatorDll, data, tmp, 4, epochs), 2.0),
            new("PyTorch DDP gloo, world 4", null, _ => Ddp(root, data, ddpKernel, 4, epochs)),
        ]);
        var runs = contenders.ToDictionary(c => c.Name, _ => new List<Run>());
        string tmp = Directory.CreateTempSubdirectory("bench-table-").FullName;
        for (int round = 1; round <= rounds; round++)
            foreach (var c in contenders)
            {
                var r = c.Start(tmp);
                runs[c.Name].Add(r);
                Console.WriteLine($"  round {round}: {c.Name,-48} {r.LastEpochSamplesPerSecond,9:N0} samples/s (last epoch), {r.AllEpochsSamplesPerSecond,9:N0} (all), to {Target:P1}: {Format(r.SecondsToTarget)} s");
            }
        Directory.Delete(tmp, true);

        // The best PyTorch setting is the one with the highest median in these rounds; its runs stand for "PyTorch's best".
        string best = torch.Select(s => s.Name).MaxBy(n => Median(runs[n].Select(r => r.LastEpochSamplesPerSecond)))!;
        runs[BestTorch] = runs[best];

        Console.WriteLine();
        Console.WriteLine($"## Default recipe, {epochs} epochs of full MNIST, medians of {rounds} interleaved rounds");
        Console.WriteLine();
        Console.WriteLine($"| trainer | BLAS kernel | samples/s, last epoch | samples/s, all epochs | s to {Target:P1} test accuracy | final test accuracy | gen-2 GCs, last epoch | peak RSS per process |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var c in contenders)
        {
            var rs = runs[c.Name];
            string gc = rs[0].Gen2LastEpoch < 0 ? "n/a" : $"{Median(rs.Select(r => (double)r.Gen2LastEpoch)):F0} in {rs[0].StepsPerEpoch} steps";
            Console.WriteLine($"| {c.Name}{(c.Name == best ? " (**best**)" : "")} | {string.Join("/", rs.Select(r => r.Kernel).Distinct())} | {Median(rs.Select(r => r.LastEpochSamplesPerSecond)):N0} | " +
                $"{Median(rs.Select(r => r.AllEpochsSamplesPerSecond)):N0} | {Format(MedianOrNull(rs.Select(r => r.SecondsToTarget)))} | {Median(rs.Select(r => r.EpochAccuracy[^1])):P2} | {gc} | {Median(rs.Select(r => r.PeakRssMb)):N0} MB |");
        }
        Console.WriteLine();
        Console.WriteLine($"Ratios, ours ÷ theirs for samples/s and theirs ÷ ours for time to accuracy (above 1: ours is faster); each as the ratio of the medians and as the median of the {rounds} rounds' ratios (a round runs every contender back to back, under the same machine load); in brackets the inverse (theirs ÷ ours for speed).");
        Console.WriteLine();
        Console.WriteLine("| ours | against | last epoch: ratio of medians / median of ratios | all epochs | time to accuracy | target | met |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var c in contenders.Where(c => c.ComparedWith is not null))
        {
            var (ours, theirs) = (runs[c.Name], runs[c.ComparedWith!]);
            var last = Ratios(ours, theirs, r => r.LastEpochSamplesPerSecond);
            var all = Ratios(ours, theirs, r => r.AllEpochsSamplesPerSecond);
            var time = ours.Concat(theirs).Any(r => r.SecondsToTarget is null) ? ((double Medians, double Paired)?)null : Ratios(theirs, ours, r => r.SecondsToTarget!.Value);
            string met = c.TargetRatio is not { } t ? "" : new[] { last.Medians, last.Paired, time?.Medians ?? 0, time?.Paired ?? 0 }.All(x => x >= t)
                && (c.ComparedWith != BestTorch || Math.Min(all.Medians, all.Paired) >= 1.2) ? "yes" : "**no**";
            string target = c.TargetRatio is not { } tr ? "" : c.ComparedWith == BestTorch ? $"≥ {tr}× last epoch and time; ≥ 1.2× all epochs" : $"≥ {tr}×";
            Console.WriteLine($"| {c.Name} | {(c.ComparedWith == BestTorch ? best : c.ComparedWith)} | {Both(last)} | {Both(all)} | {(time is null ? "n/a" : Both(time.Value))} | {target} | {met} |");
        }
        var hashes = contenders.SelectMany(c => runs[c.Name]).Select(r => r.Hash).OfType<string>().Distinct().ToList();
        Console.WriteLine();
        Console.WriteLine(hashes.Count == 1
            ? $"Exact mode: every exact run of ours (single process, 2 and 4 workers, all rounds) ended with final_weights_sha256 {hashes[0]}."
            : $"Exact mode VIOLATED: our runs ended with {hashes.Count} different hashes: {string.Join(", ", hashes)}");
        Console.WriteLine("Peak RSS: the whole simulation is one process for ours; per rank for DDP.");
        Console.WriteLine();
    }

    private static double Median(IEnumerable<double> xs) { var s = xs.Order().ToArray(); return s[s.Length / 2]; }

    private static double? MedianOrNull(IEnumerable<double?> xs) => xs.Any(x => x is null) ? null : Median(xs.Select(x => x!.Value));

    private static (double Medians, double Paired) Ratios(List<Run> a, List<Run> b, Func<Run, double> f) =>
        (Median(a.Select(f)) / Median(b.Select(f)), Median(a.Zip(b, (x, y) => f(x) / f(y))));

    private static string Both((double Medians, double Paired) r) => $"**{r.Medians:F2}×** / **{r.Paired:F2}×** ({1 / r.Medians:F2}× / {1 / r.Paired:F2}×)";

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
            m.RootElement.GetProperty("peak_resident_mb").GetDouble(), m.RootElement.GetProperty("final_weights_sha256").GetString(), $"ours ({Distributed.Shared.Numerics.Gemm.KernelName})");
    }

    private static Run Torch(string root, string data, TorchBaseline.Setting s, int epochs)
    {
        var r = TorchBaseline.Single(root, data, s, epochs);
        return new Run(r.EpochSeconds, r.EpochAccuracy, r.LastEpochSamplesPerSecond, -1, 469, r.PeakRssMb, null, $"OpenBLAS {r.Core}");
    }

    private static Run Ddp(string root, string data, string kernel, int world, int epochs)
    {
        var r = TorchBaseline.Ddp(root, data, kernel, world, epochs);
        return new Run(r.EpochSeconds, r.EpochAccuracy, r.LastEpochSamplesPerSecond, -1, 468, r.PeakRssMb, null, $"OpenBLAS {r.Core}");
    }

    /// <summary>A real multi-process run (deploy/local-cluster.sh, one epoch of full MNIST): each worker process's peak resident memory, from its log.</summary>
    /// <param name="more">Further training options (e.g. --model cnn); <paramref name="targetMb"/> is the memory target the line states.</param>
    public static void WorkerMemory(string root, int workers, int targetMb = 250, params string[] more)
    {
        string logs = Directory.CreateTempSubdirectory("bench-rss-").FullName;
        string output = ChildProcess.Run("bash", [Path.Combine(root, "deploy", "local-cluster.sh"), workers.ToString(), "--epochs", "1", "--plain", "--out", Path.Combine(logs, "run"), .. more],
            new() { ["LOG_DIR"] = logs, ["NO_BUILD"] = "1" });
        var peaks = Directory.GetFiles(logs, "worker*.log")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"peak resident memory (\d+) MB").Select(m => int.Parse(m.Groups[1].Value))).ToList();
        var speed = Regex.Match(output, @"epoch 1/1 .*?([\d,]+) samples/s");
        Console.WriteLine($"## Real processes: coordinator and {workers} worker processes on loopback (deploy/local-cluster.sh), 1 epoch of full MNIST{(more.Length > 0 ? $", {string.Join(' ', more)}" : "")}");
        Console.WriteLine(peaks.Count == 0 ? "no worker reported its memory (see the logs)" :
            $"worker peak resident memory: {string.Join(", ", peaks.Select(p => $"{p} MB"))} (target ≤ {targetMb} MB); " +
            $"training speed {(speed.Success ? speed.Groups[1].Value : "?")} samples/s");
        Console.WriteLine();
        Directory.Delete(logs, true);
    }
}
