using Distributed.Shared.Data;

namespace Distributed.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("epochs"))
        {
            var data = MnistLoader.Load(Path.Combine(FindRoot(), "data", "mnist"));
            for (int run = 0; run < 2; run++)
                new Distributed.Coordinator.Training.LocalTrainer(new Distributed.Shared.Training.TrainingOptions(), data, Console.WriteLine, 2).Run();
            return 0;
        }
        if (args.Contains("profile"))
        {
            var data = MnistLoader.Load(Path.Combine(FindRoot(), "data", "mnist"));
            StepProfile.Shard(data.Train, 32);
            StepProfile.Shard(data.Train, 128);
            StepProfile.Step(data.Train, 128, 4, 1);
            StepProfile.Step(data.Train, 128, 4, 2);
            StepProfile.Step(data.Train, 128, 1, 1);
            return 0;
        }
        foreach (var s in GemmBenchmark.MlpShapes)
            Console.WriteLine($"{s.Name,-30} 1 thread {GemmBenchmark.Measure(s, 1),6:F1}  2 threads {GemmBenchmark.Measure(s, 2),6:F1} GFLOP/s");
        return 0;
    }

    public static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("Run from inside the repository.");
    }
}
