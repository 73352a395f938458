using System.Diagnostics;
using System.Text;

namespace Distributed.Tests;

/// <summary>
/// A coordinator or worker as a real process (the Release build of src/), its output collected as
/// it comes, for specs that signal, kill or wait on nodes as an operator would.
/// </summary>
public sealed class ChildNode : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChildNode(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string Dll(string project) =>
        Path.Combine(RepositoryRoot.Path, "src", project, "bin", "Release", "net10.0", $"Distributed.{project}.dll");

    /// <summary>Starts <c>dotnet Distributed.Coordinator.dll args</c> (or the worker's).</summary>
    public static ChildNode Start(string project, params string[] args) => StartIn(null, project, args);

    /// <summary>As <see cref="Start"/>, inside network namespace <paramref name="netns"/> (an emulated host) when given.</summary>
    public static ChildNode StartIn(string? netns, string project, params string[] args)
    {
        var psi = new ProcessStartInfo(netns is null ? "dotnet" : "ip") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryRoot.Path };
        if (netns is not null)
            foreach (var a in new[] { "netns", "exec", netns, "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(Dll(project));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return new ChildNode(Process.Start(psi)!);
    }

    public int Pid => _process.Id;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails with the output so far if it does not in time or the process ends first.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text))
        {
            if (clock.Elapsed > timeout) Assert.Fail($"'{text}' did not appear within {timeout}; output:\n{Output}");
            if (_process.HasExited && !Output.Contains(text))
            {
                Thread.Sleep(200);
                if (!Output.Contains(text)) Assert.Fail($"the process exited ({_process.ExitCode}) before '{text}'; output:\n{Output}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>Sends a signal by name (INT, TERM, KILL, STOP, CONT), as <c>kill -s</c> would.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", name, _process.Id.ToString()]))!;
        kill.WaitForExit();
    }

    /// <summary>Waits for the exit code (and the output to be read to its end).</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) Assert.Fail($"the process did not exit within {timeout}; output:\n{Output}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        _process.Dispose();
    }
}
