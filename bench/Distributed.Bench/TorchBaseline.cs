using System.Text.Json;

namespace Distributed.Bench;

/// <summary>
/// PyTorch at its best on this machine: every PyTorch process runs with the environment's
/// OpenBLAS override (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) removed, so OpenBLAS picks its own kernel,
/// and also with each kernel this CPU can run forced, since OpenBLAS 0.3.21 does not know every
/// CPU (on an Intel Xeon of family 6 model 207 it falls back to Prescott, SSE3, half the speed of
/// its AVX-512 kernels). Each process reports the kernel it really ran (openblas_get_corename).
/// A short calibration tries every kernel with every thread setting on 2 cores; the best settings
/// then run in the interleaved rounds, and ours is compared with the best of those.
/// </summary>
public static class TorchBaseline
{
    public const string Python = "/usr/bin/python3";

    /// <summary>One way to run PyTorch: its kernel ("native" = OpenBLAS's own choice) and thread counts.</summary>
    public sealed record Setting(string Kernel, int Threads, int BlasThreads)
    {
        public string Name => $"PyTorch {Threads}×{BlasThreads} threads, {(Kernel == "native" ? "native kernel" : $"{Kernel} forced")}";
    }

    /// <summary>One PyTorch run's figures and the kernel it reported.</summary>
    public sealed record Result(double[] EpochSeconds, double[] EpochAccuracy, double LastEpochSamplesPerSecond, double PeakRssMb, string Core);

    /// <summary>The child environment: the override removed, threads set, and the kernel forced unless native.</summary>
    public static Dictionary<string, string?> Environment(string kernel, int threads, int blasThreads, string? pythonPath = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["OPENBLAS_CORETYPE"] = kernel == "native" ? null : kernel,
            ["OPENBLAS_L2_SIZE"] = null,
            ["OPENBLAS_NUM_THREADS"] = blasThreads.ToString(),
            ["OMP_NUM_THREADS"] = threads.ToString(),
        };
        if (pythonPath is not null) env["PYTHONPATH"] = pythonPath;
        return env;
    }

    /// <summary>OpenBLAS's own choice, then every x86 kernel of OpenBLAS 0.3.21 this CPU's flags allow, widest first.</summary>
    public static List<string> Kernels()
    {
        var flags = CpuFlags();
        var kernels = new List<string> { "native" };
        if (flags.Contains("avx512_bf16")) kernels.Add("Cooperlake");
        if (flags.Contains("avx512f") && flags.Contains("avx512bw") && flags.Contains("avx512vl")) kernels.Add("SkylakeX");
        if (flags.Contains("avx2") && flags.Contains("fma")) kernels.Add("Haswell");
        return kernels;
    }

    public static string CpuDescription()
    {
        var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        string Field(string name) => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith(name))?.Split(':', 2)[1].Trim() ?? "?";
        var vector = new[] { "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "amx_tile" }.Where(CpuFlags().Contains);
        return $"{model} (family {Field("cpu family")}, model {Field("model")}), {System.Environment.ProcessorCount} cores; vector extensions: {string.Join(' ', vector)}";
    }

    private static HashSet<string> CpuFlags() =>
        [.. (File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags")) ?? "").Split(':', 2).Last().Split(' ', StringSplitOptions.RemoveEmptyEntries)];

    public static Result Single(string root, string data, Setting s, int epochs)
    {
        string output = ChildProcess.Run(Python, [Path.Combine(root, "bench", "pytorch", "mlp.py"), "--data", data, "--epochs", epochs.ToString(), "--threads", s.Threads.ToString()],
            Environment(s.Kernel, s.Threads, s.BlasThreads, Path.Combine(root, "bench", "pytorch")));
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        return Parse(m.RootElement, "peak_rss_mb");
    }

    public static Result Ddp(string root, string data, string kernel, int world, int epochs)
    {
        string output = ChildProcess.Run(Python, [Path.Combine(root, "bench", "pytorch", "ddp.py"), "--data", data, "--world", world.ToString(), "--epochs", epochs.ToString()],
            Environment(kernel, 1, 1, Path.Combine(root, "bench", "pytorch")));
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        return Parse(m.RootElement, "peak_rss_mb_per_rank");
    }

    private static Result Parse(JsonElement m, string rss)
    {
        var e = m.GetProperty("epochs").EnumerateArray().ToArray();
        return new Result(e.Select(x => x.GetProperty("seconds").GetDouble()).ToArray(), e.Select(x => x.GetProperty("test_accuracy").GetDouble()).ToArray(),
            e[^1].GetProperty("samples_per_second").GetDouble(), m.GetProperty(rss).GetDouble(), m.GetProperty("openblas_core").GetString() ?? "?");
    }

    /// <summary>
    /// One short run (1 epoch) of every kernel × thread setting; prints the grid and returns the
    /// <paramref name="keep"/> fastest settings (one per kernel really run), fastest first.
    /// </summary>
    public static List<Setting> Calibrate(string root, string data, int keep = 2)
    {
        (int, int)[] threads = [(1, 1), (1, 2), (2, 1), (2, 2)];
        var runs = new List<(Setting Setting, Result Result)>();
        foreach (var kernel in Kernels())
            foreach (var (t, b) in threads)
                runs.Add((new Setting(kernel, t, b), Single(root, data, new Setting(kernel, t, b), 1)));
        Console.WriteLine("### PyTorch calibration: 1 epoch per setting (torch threads × OpenBLAS threads), samples/s and the kernel OpenBLAS reported");
        Console.WriteLine($"| kernel asked | {string.Join(" | ", threads.Select(x => $"{x.Item1}×{x.Item2}"))} | kernel run | test accuracy |");
        Console.WriteLine($"|---|{string.Concat(threads.Select(_ => "---|"))}---|---|");
        foreach (var group in runs.GroupBy(r => r.Setting.Kernel))
            Console.WriteLine($"| {group.Key} | {string.Join(" | ", group.Select(r => $"{r.Result.LastEpochSamplesPerSecond:N0}"))} | " +
                $"{string.Join("/", group.Select(r => r.Result.Core).Distinct())} | {group.Min(r => r.Result.EpochAccuracy[^1]):P2}–{group.Max(r => r.Result.EpochAccuracy[^1]):P2} |");
        Console.WriteLine();
        foreach (var (s, r) in runs.Where(r => r.Result.EpochAccuracy[^1] < 0.94))
            Console.WriteLine($"WARNING: {s.Name} reached only {r.EpochAccuracy[^1]:P2} test accuracy after 1 epoch: a wrong kernel?");
        // The same kernel forced and chosen natively is one contender, not two.
        return runs.OrderByDescending(r => r.Result.LastEpochSamplesPerSecond).DistinctBy(r => r.Result.Core).Take(keep).Select(r => r.Setting).ToList();
    }
}
