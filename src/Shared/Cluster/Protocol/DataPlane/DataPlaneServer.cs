using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Distributed.Shared.Security;

namespace Distributed.Shared.Protocol.DataPlane;

/// <summary>
/// The coordinator's end of the tensor data plane: listens on one TCP port, hands each welcomed
/// worker a one-time ticket, and once the worker connects with it, sends that worker's tensor
/// messages over the connection instead of Akka.Remote. Akka keeps membership, failure detection
/// and every control message; a broken connection only means its messages go over Akka.Remote again.
/// </summary>
public sealed class DataPlaneServer : ITensorTransport, IDisposable
{
    private readonly Socket _listener;
    private readonly string _publicHost;
    private readonly DataPlaneSecurity _security;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly Dictionary<string, (IActorRef Worker, IActorRef Self)> _pending = [];
    private readonly Dictionary<IActorRef, DataPlaneConnection> _connections = [];

    private readonly int _maxMessageBytes;

    private DataPlaneServer(Socket listener, string publicHost, DataPlaneSecurity security, Action<string> log, int maxMessageBytes)
    {
        (_listener, _publicHost, _security, _log, _maxMessageBytes) = (listener, publicHost, security, log, maxMessageBytes);
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>The port workers connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Listens on <paramref name="bindHost"/>:<paramref name="port"/> (0: any free port); workers are told to connect to <paramref name="publicHost"/>.</summary>
    /// <param name="maxMessageBytes">Largest message accepted (the cluster's frame size).</param>
    public static DataPlaneServer Start(string bindHost, string publicHost, int port, TlsSettings? tls, Action<string> log,
        int maxMessageBytes = MessageLimits.DefaultMaximumFrameSize)
    {
        var security = new DataPlaneSecurity(tls);
        var address = bindHost is "0.0.0.0" or "*" ? IPAddress.Any : Dns.GetHostAddresses(bindHost).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(64);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"the data plane cannot listen on {bindHost}:{port}: {e.Message}", e);
        }
        return new DataPlaneServer(listener, publicHost, security, log, maxMessageBytes);
    }

    /// <summary>True while <paramref name="worker"/> has an open data connection.</summary>
    public bool IsConnected(IActorRef worker)
    {
        lock (_gate) return _connections.TryGetValue(worker, out var c) && c.IsOpen;
    }

    public DataPlaneTicket? Offer(IActorRef worker, IActorRef self)
    {
        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        lock (_gate) _pending[token] = (worker, self);
        return new DataPlaneTicket(_publicHost, Port, token);
    }

    public void Accept(DataPlaneTicket? ticket, IActorRef coordinator, IActorRef self) { }

    public void Send(IActorRef recipient, IClusterMessage message, IActorRef sender)
    {
        DataPlaneConnection? connection;
        lock (_gate) _connections.TryGetValue(recipient, out connection);
        if (connection is null || !connection.TrySend(message)) recipient.Tell(message, sender);
    }

    public void Forget(IActorRef peer)
    {
        DataPlaneConnection? connection;
        lock (_gate)
        {
            foreach (var token in _pending.Where(p => p.Value.Worker.Equals(peer)).Select(p => p.Key).ToList()) _pending.Remove(token);
            _connections.Remove(peer, out connection);
        }
        connection?.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            _ = Task.Run(() => Handshake(socket));
        }
    }

    private async Task Handshake(Socket socket)
    {
        string peer = socket.RemoteEndPoint?.ToString() ?? "?";
        DataPlaneSecurity.Tune(socket);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(DataPlaneSecurity.HandshakeTimeout);
        Stream? stream = null;
        try
        {
            var hello = await _security.AcceptAsync(socket, timeout.Token);
            if (hello is null)
            {
                _log($"data plane: refused a connection from {peer}: not a data-plane client");
                socket.Dispose();
                return;
            }
            stream = hello.Value.Stream;
            (IActorRef Worker, IActorRef Self) owner;
            bool known;
            lock (_gate) known = _pending.Remove(hello.Value.Token, out owner);
            if (!known)
            {
                _log($"data plane: refused a connection from {peer}: unknown or used ticket");
                await stream.WriteAsync(new byte[] { 0 }, timeout.Token);
                await stream.DisposeAsync();
                return;
            }
            await stream.WriteAsync(new byte[] { 1 }, timeout.Token);
            await stream.FlushAsync(timeout.Token);
            var connection = new DataPlaneConnection(stream, $"{owner.Worker.Path.Address} ({peer})", owner.Self, owner.Worker, _log, Closed, _maxMessageBytes);
            DataPlaneConnection? replaced;
            lock (_gate)
            {
                _connections.Remove(owner.Worker, out replaced);
                _connections[owner.Worker] = connection;
            }
            replaced?.Dispose();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            _log($"data plane: refused a connection from {peer}: {e.Message}");
            if (stream is not null) await stream.DisposeAsync();
            else socket.Dispose();
        }
    }

    private void Closed(DataPlaneConnection connection)
    {
        lock (_gate)
        {
            foreach (var key in _connections.Where(c => ReferenceEquals(c.Value, connection)).Select(c => c.Key).ToList()) _connections.Remove(key);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        List<DataPlaneConnection> open;
        lock (_gate)
        {
            open = [.. _connections.Values];
            _connections.Clear();
            _pending.Clear();
        }
        foreach (var c in open) c.Dispose();
    }
}
