using Akka.Actor;
using Akka.Event;

namespace Distributed.Shared.Cluster;

/// <summary>
/// Akka's log, one line per event on standard error, never a stack trace (the cause is named by its
/// type and message). Disassociation reports are dropped: every normal shutdown of a node makes its
/// peers log them, and the coordinator reports lost workers itself.
/// </summary>
public sealed class OneLineLogger : ReceiveActor
{
    public OneLineLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(IsShutdownNoise, _ => { });
        Receive<LogEvent>(Write);
    }

    // Peers of a node that shuts down normally log its disassociation (and DotNetty its channels).
    private static bool IsShutdownNoise(LogEvent e)
    {
        string message = e.Message?.ToString() ?? "";
        return e is Error { Cause: { } c } && c.GetType().Name == "EndpointDisassociatedException"
            || message == "Disassociated"
            || message.Contains("EndpointDisassociatedException: Disassociated")
            || message.StartsWith("Unable to REMOVE channel");
    }

    private static void Write(LogEvent e)
    {
        string cause = e is Error { Cause: { } c } ? $" ({c.GetType().Name}: {c.Message.Split('\n')[0]})" : "";
        string message = (e.Message?.ToString() ?? "").Split('\n')[0];
        Console.Error.WriteLine($"{e.Timestamp:HH:mm:ss.fff} akka {e.LogLevel().ToString().Replace("Level", "").ToLowerInvariant()} [{e.LogSource}] {message}{cause}");
    }
}
