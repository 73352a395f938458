using System.Runtime.InteropServices;

namespace Distributed.Shared.Lifetime;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM as a request to stop cleanly: the first one is caught and sets
/// <see cref="Token"/>, so the run finishes (or abandons) its step, writes a checkpoint and exits
/// with <see cref="ExitCode"/> (130 or 143, the shell's 128 + signal). A second signal is not caught:
/// the process ends at once, as a user pressing Ctrl-C twice expects (the last checkpoint stays).
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _received;

    private StopSignal() { }

    /// <summary>Listens for SIGINT and SIGTERM (until disposed).</summary>
    public static StopSignal Listen()
    {
        var signal = new StopSignal();
        foreach (var s in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            signal._registrations.Add(PosixSignalRegistration.Create(s, context => context.Cancel = signal.Request(context.Signal)));
        return signal;
    }

    /// <summary>Cancelled when the first signal arrives.</summary>
    public CancellationToken Token => _stop.Token;

    public bool Requested => _stop.IsCancellationRequested;

    /// <summary>The signal received first (SIGINT unless SIGTERM came first).</summary>
    public PosixSignal Signal { get; private set; } = PosixSignal.SIGINT;

    /// <summary>SIGINT, as "interrupted (SIGINT)"; for the one line a stopping run prints.</summary>
    public string Name => Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";

    /// <summary>128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.</summary>
    public int ExitCode => Signal == PosixSignal.SIGTERM ? 143 : 130;

    /// <summary>Records a stop request; true the first time (the signal is then caught), false after.</summary>
    public bool Request(PosixSignal signal)
    {
        if (Interlocked.Exchange(ref _received, 1) != 0) return false;
        Signal = signal;
        _stop.Cancel();
        return true;
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
    }
}
