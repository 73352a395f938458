using Microsoft.Extensions.Hosting;

namespace Distributed.Shared.Cluster;

/// <summary>
/// A host lifetime that leaves SIGINT and SIGTERM to the program. The generic host's default
/// (ConsoleLifetime) stops the node on either at once: mid-step, with no checkpoint, and the
/// coordinator then reported itself "removed from the cluster (downed)". The programs catch the
/// signals themselves (<see cref="Lifetime.StopSignal"/>) and shut the node down when the run is saved.
/// </summary>
internal sealed class ProgramOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
