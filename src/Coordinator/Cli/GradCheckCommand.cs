using System.CommandLine;
using Distributed.Shared.Diagnostics;

namespace Distributed.Coordinator.Cli;

/// <summary><c>gradcheck</c>: prints the double-precision gradient proof as a table.</summary>
public static class GradCheckCommand
{
    public static Command Create()
    {
        var seed = new Option<int>("--seed") { Description = "Seed for the random test inputs.", DefaultValueFactory = _ => 1 };
        var command = new Command("gradcheck", "Check every layer's and loss's backward against finite differences (double precision).") { seed };
        command.SetAction(parse => Run(parse.GetValue(seed), parse.InvocationConfiguration.Output));
        return command;
    }

    public static int Run(int seed, TextWriter output)
    {
        var rows = GradientCheckReport.Run(seed);
        int width = rows.Max(r => r.Check.Length);
        output.WriteLine($"{"check".PadRight(width)}  {"measure",-18}  {"value",9}  {"limit",7}  result");
        foreach (var r in rows)
        {
            string verdict = r.Passed ? (r.ExpectFailure ? "caught (wrong, as expected)" : "ok") : "FAILED";
            string bound = r.ExpectFailure ? $">{r.Limit:0E0}" : $"≤{r.Limit:0E0}";
            output.WriteLine($"{r.Check.PadRight(width)}  {r.Measure,-18}  {r.Value,9:0.0E+0}  {bound,7}  {verdict}");
        }
        int failed = rows.Count(r => !r.Passed);
        output.WriteLine(failed == 0
            ? $"all {rows.Count} checks passed: the backward passes are right (and the s ⊙ (I − s) backward is wrong)."
            : $"{failed} of {rows.Count} checks FAILED.");
        return failed == 0 ? ExitCodes.Success : ExitCodes.CheckFailed;
    }
}
