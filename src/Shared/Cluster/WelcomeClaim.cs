using System.Text;
using Distributed.Shared.Protocol;

namespace Distributed.Shared.Cluster;

/// <summary>
/// What a coordinator's Welcome claims, signed so that a worker can tell the real coordinator from
/// any other member of the cluster: TLS proves only that a peer holds <i>some</i> certificate of the
/// cluster's CA, and any member may announce the coordinator role. The claim binds the worker's own
/// fresh challenge (no replay), the coordinator's address (a relayed Welcome names the relayed one),
/// the run and the data-plane ticket (no redirection of the tensors).
/// </summary>
public sealed record WelcomeClaim(string Challenge, string CoordinatorAddress, string RunId, string WorkerName, DataPlaneTicket? Ticket)
{
    public byte[] ToBytes() => Encoding.UTF8.GetBytes(string.Join('\n', "distributed/welcome/v1", Challenge, CoordinatorAddress, RunId, WorkerName,
        Ticket is { } t ? $"{t.Host}:{t.Port}:{t.Token}" : "-"));
}
