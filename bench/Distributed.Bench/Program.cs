using Distributed.Shared.Data;
using Distributed.Shared.Numerics;
using Distributed.Shared.Training;

namespace Distributed.Bench;

/// <summary>
/// bench [table [rounds]] [gemm] [exchange] [memory] [profile] [zeromask]: the performance table (ours vs PyTorch
/// at its best and DDP, exchange latency, GC, memory; the default), matrix-product GFLOP/s at the MLP's
/// shapes, a per-phase profile of one step, and the speed of the exact zero-masked tensor coding. Run through bench/run.sh.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string root = FindRoot();
        var what = args.Length == 0 ? ["table"] : args;
        if (what.Contains("table"))
        {
            string dll = Path.Combine(root, "src", "Coordinator", "bin", "Release", "net10.0", "Distributed.Coordinator.dll");
            int rounds = args.Length > 1 && int.TryParse(args[1], out int r) ? r : 5;
            PerformanceTable.Print(root, dll, rounds, epochs: 3);
            what = [.. what, "exchange", "memory"];
        }
        if (what.Contains("memory")) PerformanceTable.WorkerMemory(root, 2);
        if (what.Contains("gemm"))
        {
            foreach (bool avx512 in Gemm.Avx512Available ? new[] { true, false } : [false])
            {
                Gemm.UseAvx512 = avx512;
                Console.WriteLine($"## Matrix product (our packed {Gemm.KernelName} kernel), median GFLOP/s");
                Console.WriteLine("| product | 1 thread | 2 threads |");
                Console.WriteLine("|---|---|---|");
                foreach (var s in GemmBenchmark.MlpShapes)
                    Console.WriteLine($"| {s.Name} | {GemmBenchmark.Measure(s, 1):F1} | {GemmBenchmark.Measure(s, 2):F1} |");
                Console.WriteLine();
            }
            Gemm.UseAvx512 = Gemm.Avx512Available;
        }
        if (what.Contains("profile"))
        {
            var data = MnistLoader.Load(Path.Combine(root, "data", "mnist"));
            PhaseProfile.Print(data.Train);
            StepProfile.Shard(data.Train, 32);
            StepProfile.Shard(data.Train, 128);
            StepProfile.Step(data.Train, 128, 4, 1);
            StepProfile.Step(data.Train, 128, 4, 2);
            StepProfile.Step(data.Train, 128, 1, 1);
            StepProfile.Step(data.Train, 128, 4, 1, onePass: true);
            Console.WriteLine();
        }
        if (what.Contains("cnn"))
        {
            string dll = Path.Combine(root, "src", "Coordinator", "bin", "Release", "net10.0", "Distributed.Coordinator.dll");
            CnnBenchmark.Print(root, dll, ModelPreset.LeNet5, 12_800, 3);
            CnnBenchmark.Print(root, dll, ModelPreset.Cnn, 6_400, 3);
            PerformanceTable.WorkerMemory(root, 2, 400, "--model", "cnn", "--train-limit", "12800");
        }
        if (what.Contains("observe")) ObservationOverhead.Print();
        if (what.Contains("layers"))
        {
            var data = MnistLoader.Load(Path.Combine(root, "data", "mnist"));
            LayerProfile.Print(data.Train, ModelPreset.LeNet5);
            LayerProfile.Print(data.Train, ModelPreset.Cnn);
            LayerProfile.ConvParts();
            LayerProfile.ConvProductsRowMajor();
        }
        if (what.Contains("zeromask")) ZeroMaskBenchmark.Print(MnistLoader.Load(Path.Combine(root, "data", "mnist")).Train);
        if (what.Contains("exchange"))
        {
            Console.WriteLine($"## One weights-out / gradient-back exchange with one worker ({ExchangeBenchmark.DefaultMlpParameters * 4 / 1000.0:N0} KB each way, loopback)");
            Console.WriteLine("| transport | median ms | p90 ms | gen0 / gen1 / gen2 GCs per 400 | MB allocated per exchange |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach (bool dataPlane in new[] { true, false, true, false })
            {
                var r = ExchangeBenchmark.Measure(dataPlane);
                Console.WriteLine($"| {r.Transport} | {r.MedianMs:F2} | {r.P90Ms:F2} | {r.Gen0} / {r.Gen1} / {r.Gen2} | {r.AllocatedMbPerExchange:F2} |");
            }
            Console.WriteLine();
        }
        return 0;
    }

    public static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("Run from inside the repository.");
    }
}
