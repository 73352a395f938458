namespace Distributed.Coordinator.Cli;

/// <summary>Process exit codes (documented in the README).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int InvalidArguments = 1;
    public const int BadInput = 2;
    public const int OutputFailed = 3;
    public const int CheckFailed = 4;
    public const int RunFailed = 5;
}
