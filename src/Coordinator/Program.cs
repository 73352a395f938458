using System.CommandLine;
using Distributed.Coordinator.Cli;

namespace Distributed.Coordinator;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs a command line, writing to the given streams (tests pass their own).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Distributed: data-parallel MLP training on MNIST with Akka.NET.")
        {
            TrainCommand.Create(),
            GradCheckCommand.Create(),
            CoordinatorCommand.Create(),
            EvaluateCommand.Create(),
            ExportCommand.Create(),
            PredictCommand.Create(),
        };
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}
