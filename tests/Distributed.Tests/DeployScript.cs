using System.Diagnostics;

namespace Distributed.Tests;

/// <summary>Runs a script from deploy/ with bash, from the repository root, and returns its exit code and output.</summary>
public static class DeployScript
{
    public static (int Code, string Output) Run(string script, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryRoot.Path };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot.Path, "deploy", script));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(timeout), $"{script} did not finish within {timeout}");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
