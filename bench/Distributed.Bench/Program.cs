namespace Distributed.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        foreach (var s in GemmBenchmark.MlpShapes)
            Console.WriteLine($"{s.Name,-30} 1 thread {GemmBenchmark.Measure(s, 1),6:F1}  2 threads {GemmBenchmark.Measure(s, 2),6:F1} GFLOP/s");
        return 0;
    }
}
