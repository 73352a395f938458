using Akka.Actor;
using Distributed.Shared.Security;

namespace Distributed.Shared.Protocol.DataPlane;

/// <summary>
/// A worker's data plane under the peer exchange: its connection to the coordinator, plus direct
/// connections to the other workers, so that slices travel worker to worker instead of through the
/// coordinator or Akka.Remote. Each pair of workers shares one connection, both ways: one side
/// listens (a <see cref="DataPlaneServer"/>, started when first asked for a ticket) and hands the
/// other a one-time ticket over the cluster's own link; with TLS both ends also prove a certificate
/// of the cluster's CA. Until a link is up, or when it breaks, messages go over Akka.Remote.
/// </summary>
public sealed class PeerDataPlane(string bindHost, string publicHost, TlsSettings? tls, Action<string> log, int maxMessageBytes = MessageLimits.DefaultMaximumFrameSize)
    : ITensorTransport, IDisposable
{
    private readonly DataPlaneClient _coordinator = new(tls, log, maxMessageBytes);
    private readonly object _gate = new();
    private readonly Dictionary<IActorRef, DataPlaneClient> _peers = [];
    private DataPlaneServer? _server;

    public DataPlaneTicket? Offer(IActorRef peer, IActorRef self)
    {
        DataPlaneServer server;
        lock (_gate)
        {
            try
            {
                server = _server ??= DataPlaneServer.Start(bindHost, publicHost, 0, tls, log, maxMessageBytes);
            }
            catch (IOException e)
            {
                log($"data plane: cannot listen for peers ({e.Message}); slices go over Akka.Remote");
                return null;
            }
        }
        return server.Offer(peer, self);
    }

    public void Accept(DataPlaneTicket? ticket, IActorRef coordinator, IActorRef self) => _coordinator.Accept(ticket, coordinator, self);

    public void Connect(DataPlaneTicket ticket, IActorRef peer, IActorRef self)
    {
        var client = new DataPlaneClient(tls, log, maxMessageBytes, $"peer {peer.Path.Address}");
        DataPlaneClient? replaced;
        lock (_gate)
        {
            _peers.Remove(peer, out replaced);
            _peers[peer] = client;
        }
        replaced?.Dispose();
        client.Accept(ticket, peer, self);
    }

    public void Send(IActorRef recipient, IClusterMessage message, IActorRef sender)
    {
        DataPlaneClient? peer;
        DataPlaneServer? server;
        lock (_gate)
        {
            _peers.TryGetValue(recipient, out peer);
            server = _server;
        }
        if (peer is { IsConnected: true }) peer.Send(recipient, message, sender);
        else if (server is not null && server.IsConnected(recipient)) server.Send(recipient, message, sender);
        else _coordinator.Send(recipient, message, sender);
    }

    public void Forget(IActorRef peer)
    {
        _coordinator.Forget(peer);
        DataPlaneClient? client;
        DataPlaneServer? server;
        lock (_gate)
        {
            _peers.Remove(peer, out client);
            server = _server;
        }
        client?.Dispose();
        server?.Forget(peer);
    }

    public void Dispose()
    {
        List<DataPlaneClient> peers;
        DataPlaneServer? server;
        lock (_gate)
        {
            peers = [.. _peers.Values];
            _peers.Clear();
            (server, _server) = (_server, null);
        }
        foreach (var p in peers) p.Dispose();
        server?.Dispose();
        _coordinator.Dispose();
    }
}
