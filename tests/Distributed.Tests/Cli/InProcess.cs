using System.Text.Json;
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

    /// <summary>The <c>final_weights_sha256</c> of the run whose output folder is <paramref name="folder"/>.</summary>
    public static string FinalHash(string folder)
    {
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")));
        return metrics.RootElement.GetProperty("final_weights_sha256").GetString()!;
    }
}
