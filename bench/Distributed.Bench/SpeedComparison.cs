using System.Text.Json;

namespace Distributed.Bench;

/// <summary>
/// Our single-process trainer against PyTorch on the same machine, same data, same recipe
/// (784-256-128-10, batch 128, Adam): fresh processes, interleaved rounds, medians.
/// </summary>
public static class SpeedComparison
{
    public sealed record Contender(string Name, Func<string, (double Steady, double Mean, double Accuracy)> Run);

    public static void Run(string root, string coordinatorDll, int rounds, int epochs)
    {
        string data = Path.Combine(root, "data", "mnist");
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var contenders = new List<Contender>
        {
            new("ours (2 cores)", tmp => Ours(coordinatorDll, data, tmp, epochs)),
            new("PyTorch, 1 thread, OpenBLAS 1", _ => Torch(python, root, data, epochs, 1, 1)),
            new("PyTorch, 1 thread, OpenBLAS 2 (best)", _ => Torch(python, root, data, epochs, 1, 2)),
            new("PyTorch, 2 threads, OpenBLAS 2 (default)", _ => Torch(python, root, data, epochs, 2, 2)),
        };
        var results = contenders.ToDictionary(c => c.Name, _ => new List<(double Steady, double Mean, double Accuracy)>());
        string tmp = Directory.CreateTempSubdirectory("bench-").FullName;
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var c in contenders)
            {
                var r = c.Run(tmp);
                results[c.Name].Add(r);
                Console.WriteLine($"  round {round}: {c.Name,-42} {r.Steady,9:N0} samples/s (last epoch), {r.Mean,9:N0} (all epochs)");
            }
        }
        Directory.Delete(tmp, true);

        double Median(IEnumerable<double> xs) { var s = xs.Order().ToArray(); return s[s.Length / 2]; }
        double best = Median(results["PyTorch, 1 thread, OpenBLAS 2 (best)"].Select(r => r.Steady));
        double ours = Median(results["ours (2 cores)"].Select(r => r.Steady));
        Console.WriteLine();
        Console.WriteLine($"| trainer ({epochs} epochs, medians of {rounds} interleaved rounds) | samples/s, last epoch | samples/s, all epochs | test accuracy | ours ÷ this |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var c in contenders)
        {
            var rs = results[c.Name];
            double steady = Median(rs.Select(r => r.Steady));
            Console.WriteLine($"| {c.Name} | {steady:N0} | {Median(rs.Select(r => r.Mean)):N0} | {Median(rs.Select(r => r.Accuracy)):P2} | {ours / steady:F2} |");
        }
        Console.WriteLine();
        Console.WriteLine($"ours ÷ PyTorch's best setting: {ours / best:F2}");
    }

    private static (double, double, double) Ours(string dll, string data, string tmp, int epochs)
    {
        string outDir = Path.Combine(tmp, "ours");
        ChildProcess.Run("dotnet", [dll, "train", "--workers", "0", "--epochs", epochs.ToString(), "--data", data, "--out", outDir], null);
        using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
        var e = m.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        double seconds = e.Sum(x => x.GetProperty("train_seconds").GetDouble());
        int samples = m.RootElement.GetProperty("data").GetProperty("train_samples").GetInt32();
        return (e[^1].GetProperty("samples_per_second").GetDouble(), samples * e.Length / seconds, e[^1].GetProperty("test_accuracy").GetDouble());
    }

    private static (double, double, double) Torch(string python, string root, string data, int epochs, int threads, int blasThreads)
    {
        string output = ChildProcess.Run(python, [Path.Combine(root, "bench", "pytorch", "mlp.py"), "--data", data, "--epochs", epochs.ToString(), "--threads", threads.ToString()],
            new() { ["OPENBLAS_NUM_THREADS"] = blasThreads.ToString(), ["OMP_NUM_THREADS"] = threads.ToString() });
        using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        var e = m.RootElement.GetProperty("epochs").EnumerateArray().ToArray();
        double seconds = e.Sum(x => x.GetProperty("seconds").GetDouble());
        return (e[^1].GetProperty("samples_per_second").GetDouble(), 60000.0 * e.Length / seconds, e[^1].GetProperty("test_accuracy").GetDouble());
    }
}
