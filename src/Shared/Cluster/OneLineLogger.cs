using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Distributed.Shared.Cluster;

/// <summary>
/// Akka's log bridged into Microsoft.Extensions.Logging: one line per event on standard error
/// (category = the Akka log source), never a stack trace (the cause is named by its type and
/// message). Disassociation reports are dropped: every normal shutdown of a node makes its peers
/// log them, and the coordinator reports lost workers itself. Replace <see cref="Factory"/> to send
/// Akka's log elsewhere.
/// </summary>
public sealed class OneLineLogger : ReceiveActor, Akka.Dispatch.IRequiresMessageQueue<Akka.Event.ILoggerMessageQueueSemantics>
{
    public static ILoggerFactory Factory { get; set; } = LoggerFactory.Create(builder => builder
        .SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        })
        .AddConsole(o => o.LogToStandardErrorThreshold = Microsoft.Extensions.Logging.LogLevel.Trace));

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
        var level = e.LogLevel() switch
        {
            Akka.Event.LogLevel.ErrorLevel => Microsoft.Extensions.Logging.LogLevel.Error,
            Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
            Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
            _ => Microsoft.Extensions.Logging.LogLevel.Debug,
        };
        Factory.CreateLogger($"akka {e.LogSource}").Log(level, "{Message}{Cause}", message, cause);
    }
}
