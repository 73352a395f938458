using System.Net.Sockets;
using Akka.Actor;
using Distributed.Shared.Security;

namespace Distributed.Shared.Protocol.DataPlane;

/// <summary>
/// A worker's end of the tensor data plane: connects with the ticket from its Welcome (in the
/// background; until then, and whenever the connection breaks, messages go over Akka.Remote).
/// </summary>
/// <param name="maxMessageBytes">Largest message accepted (the cluster's frame size).</param>
/// <param name="peerName">Who is at the other end, for the log.</param>
public sealed class DataPlaneClient(TlsSettings? tls, Action<string> log, int maxMessageBytes = MessageLimits.DefaultMaximumFrameSize, string peerName = "the coordinator")
    : ITensorTransport, IDisposable
{
    private readonly DataPlaneSecurity _security = new(tls);
    private readonly object _gate = new();
    private DataPlaneConnection? _connection;
    private IActorRef? _coordinator;

    /// <summary>True once the data connection to the coordinator is open (tests wait for it).</summary>
    public bool IsConnected => _connection is { IsOpen: true };

    public DataPlaneTicket? Offer(IActorRef worker, IActorRef self) => null;

    public void Accept(DataPlaneTicket? ticket, IActorRef coordinator, IActorRef self)
    {
        Forget(_coordinator ?? coordinator);
        if (ticket is null) return;
        lock (_gate) _coordinator = coordinator;
        _ = Task.Run(() => Connect(ticket, coordinator, self));
    }

    private async Task Connect(DataPlaneTicket ticket, IActorRef coordinator, IActorRef self)
    {
        using var timeout = new CancellationTokenSource(DataPlaneSecurity.HandshakeTimeout);
        try
        {
            var stream = await _security.ConnectAsync(ticket, timeout.Token);
            if (stream is null)
            {
                log($"data plane: {ticket.Host}:{ticket.Port} refused this worker's ticket; tensors go over Akka.Remote");
                return;
            }
            var connection = new DataPlaneConnection(stream, $"{peerName} {ticket.Host}:{ticket.Port}", self, coordinator, log, Closed, maxMessageBytes);
            bool current;
            lock (_gate)
            {
                current = coordinator.Equals(_coordinator);
                if (current) _connection = connection;
            }
            if (!current) connection.Dispose();
            else log($"data plane: connected to {peerName} at {ticket.Host}:{ticket.Port}{(tls is null ? "" : " (TLS)")}; tensors for it travel there");
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            log($"data plane: cannot connect to {ticket.Host}:{ticket.Port} ({e.Message}); tensors go over Akka.Remote");
        }
    }

    public void Send(IActorRef recipient, IClusterMessage message, IActorRef sender)
    {
        var connection = _connection;
        if (connection is null || !recipient.Equals(_coordinator) || !connection.TrySend(message)) recipient.Tell(message, sender);
    }

    public void Forget(IActorRef peer)
    {
        DataPlaneConnection? connection = null;
        lock (_gate)
        {
            if (!peer.Equals(_coordinator)) return;
            (connection, _connection, _coordinator) = (_connection, null, null);
        }
        connection?.Dispose();
    }

    private void Closed(DataPlaneConnection connection)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_connection, connection)) _connection = null;
        }
    }

    public void Dispose()
    {
        DataPlaneConnection? connection;
        lock (_gate) (connection, _connection, _coordinator) = (_connection, null, null);
        connection?.Dispose();
    }
}
