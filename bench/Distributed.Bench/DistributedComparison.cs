using System.Text.Json;

namespace Distributed.Bench;

/// <summary>
/// Cluster training (single-machine simulation, Akka.Remote on loopback) with 0, 1, 2 and 4 workers
/// against PyTorch DDP with gloo at world 2 and 4: one epoch of full MNIST, global batch 128, fresh
/// processes, interleaved rounds, medians; with our per-step breakdown.
/// </summary>
public static class DistributedComparison
{
    public static void Run(string root, string coordinatorDll, int rounds)
    {
        string data = Path.Combine(root, "data", "mnist");
        string tmp = Directory.CreateTempSubdirectory("bench-dist-").FullName;
        int[] ours = [0, 1, 2, 4];
        int[] ddp = [2, 4];
        var our = ours.ToDictionary(w => w, _ => new List<JsonElement>());
        var theirs = ddp.ToDictionary(w => w, _ => new List<double>());
        for (int round = 1; round <= rounds; round++)
        {
            foreach (int w in ours)
            {
                string outDir = Path.Combine(tmp, $"w{w}");
                ChildProcess.Run("dotnet", [coordinatorDll, "train", "--epochs", "1", "--workers", w.ToString(), "--data", data, "--out", outDir], null);
                using var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")));
                our[w].Add(m.RootElement.Clone());
                Console.WriteLine($"  round {round}: ours, {w} worker(s): {m.RootElement.GetProperty("epochs")[0].GetProperty("samples_per_second").GetDouble():N0} samples/s");
            }
            foreach (int w in ddp)
            {
                string output = ChildProcess.Run("/usr/bin/python3", [Path.Combine(root, "bench", "pytorch", "ddp.py"), "--data", data, "--world", w.ToString()],
                    new() { ["OPENBLAS_NUM_THREADS"] = "1", ["OMP_NUM_THREADS"] = "1", ["PYTHONPATH"] = Path.Combine(root, "bench", "pytorch") });
                using var m = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
                double sps = m.RootElement.GetProperty("samples_per_second").GetDouble();
                theirs[w].Add(sps);
                Console.WriteLine($"  round {round}: PyTorch DDP gloo, world {w}: {sps:N0} samples/s");
            }
        }
        Directory.Delete(tmp, true);

        static double Median(IEnumerable<double> xs) { var s = xs.Order().ToArray(); return s[s.Length / 2]; }
        double Ours(int w) => Median(our[w].Select(m => m.GetProperty("epochs")[0].GetProperty("samples_per_second").GetDouble()));
        Console.WriteLine();
        Console.WriteLine($"| trainer (1 epoch, batch 128, medians of {rounds}) | samples/s | ÷ DDP same world |");
        Console.WriteLine("|---|---|---|");
        foreach (int w in ours)
        {
            string ratio = theirs.ContainsKey(w) ? $"{Ours(w) / Median(theirs[w]):F2}" : "";
            Console.WriteLine($"| ours, {(w == 0 ? "single process (--workers 0)" : $"{w} worker(s), simulation")} | {Ours(w):N0} | {ratio} |");
        }
        foreach (int w in ddp) Console.WriteLine($"| PyTorch DDP gloo, world {w} | {Median(theirs[w]):N0} | |");

        Console.WriteLine();
        Console.WriteLine("Per-step breakdown of our cluster runs (medians; ms per step):");
        Console.WriteLine("| workers | step | worker compute (per shard × shards per worker) | worker wait (round trip − compute) | serialize | deserialize | reduce + optimizer | bytes serialized |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int w in ours.Where(w => w > 0))
        {
            double B(string field) => Median(our[w].Select(m => m.GetProperty("extra").GetProperty("step_breakdown").GetProperty(field).GetDouble()));
            double W(string field) => Median(our[w].Select(m => m.GetProperty("extra").GetProperty("workers").EnumerateArray().Average(x => x.GetProperty(field).GetDouble())));
            Console.WriteLine($"| {w} | {B("step_ms"):F2} | {W("mean_compute_ms"):F2} × {4.0 / w:F1} | {W("mean_wait_ms_per_step"):F2} | {B("serialize_ms"):F2} | {B("deserialize_ms"):F2} | {B("reduce_and_optimizer_ms"):F2} | {B("bytes_serialized") / 1e6:F2} MB |");
        }
    }
}
