using System.CommandLine;
using Distributed.Coordinator.Cli;

namespace Distributed.Coordinator;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Distributed: data-parallel MLP training on MNIST with Akka.NET.")
        {
            TrainCommand.Create(),
            GradCheckCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
