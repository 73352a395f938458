using Distributed.Coordinator;

namespace Distributed.Tests.Cli;

/// <summary>The coordinator's command line run inside the test process, its output captured.</summary>
public static class InProcess
{
    public static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
