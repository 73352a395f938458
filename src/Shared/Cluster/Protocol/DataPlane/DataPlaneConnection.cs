using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;

namespace Distributed.Shared.Protocol.DataPlane;

/// <summary>
/// One data-plane connection: protocol messages in the <see cref="ProtocolCodec"/> format, each a
/// manifest followed by its fields, tensors written straight from their float arrays (no
/// intermediate buffer, so a broadcast's weights are never copied per worker). Sends are queued and
/// written by one loop, so an actor never blocks on a slow peer; a dedicated thread reads and
/// delivers each message to <c>deliverTo</c> as if <c>from</c> had sent it. Any error closes the
/// connection, and the transport falls back to Akka.Remote.
/// </summary>
public sealed class DataPlaneConnection : IDisposable
{
    private const int BufferBytes = 1 << 16;

    private readonly Stream _stream;
    private readonly Channel<IClusterMessage> _outbox = Channel.CreateUnbounded<IClusterMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action<string> _log;
    private readonly string _peer;
    private readonly CancellationTokenSource _closed = new();
    private int _disposed;
    private static long s_delivered;

    /// <summary>Messages received over data-plane connections, process-wide.</summary>
    public static long Delivered => Interlocked.Read(ref s_delivered);

    private readonly IActorRef _self, _remote;
    private IClusterMessage? _writing;

    private readonly int _maxLength;

    /// <param name="maxMessageBytes">
    /// The cluster's frame size: no tensor or index array may be longer than a quarter of it (the same
    /// bound Akka.Remote puts on a message), so a corrupt or hostile peer cannot make this node allocate gigabytes.
    /// </param>
    public DataPlaneConnection(Stream stream, string peer, IActorRef deliverTo, IActorRef from, Action<string> log, Action<DataPlaneConnection> onClosed,
        int maxMessageBytes)
    {
        _maxLength = Math.Max(1, maxMessageBytes / 4);
        (_stream, _peer, _log) = (new CountingStream(stream), peer, log);
        (_self, _remote) = (deliverTo, from);
        Closed = onClosed;
        _ = Task.Run(WriteLoop);
        var reader = new Thread(() => ReadLoop(deliverTo, from)) { IsBackground = true, Name = $"data-plane {peer}" };
        reader.Start();
    }

    private Action<DataPlaneConnection> Closed { get; }

    public bool IsOpen => Volatile.Read(ref _disposed) == 0;

    /// <summary>Queues a message; false when the connection is already closed (send it another way).</summary>
    public bool TrySend(IClusterMessage message) => IsOpen && _outbox.Writer.TryWrite(message);

    private async Task WriteLoop()
    {
        try
        {
            await using var buffered = new BufferedStream(_stream, BufferBytes);
            using var writer = new BinaryWriter(buffered, Encoding.UTF8, leaveOpen: true);
            while (await _outbox.Reader.WaitToReadAsync(_closed.Token))
            {
                while (_outbox.Reader.TryRead(out var message))
                {
                    long start = Stopwatch.GetTimestamp();
                    _writing = message;
                    writer.Write(ProtocolCodec.Manifest(message));
                    ProtocolCodec.Write(writer, message);
                    writer.Flush();
                    ProtocolCodec.Count(0, 0, Stopwatch.GetElapsedTime(start).Ticks, 0);
                    // Written: a pooled tensor the sender handed over can serve the next message, unless
                    // a failing connection has just handed this message to Akka.Remote (Close took it).
                    switch (Interlocked.Exchange(ref _writing, null))
                    {
                        case CoordinatorProtocol.PieceResult r: r.GradientSum.Release(); break;
                        case PeerProtocol.PieceSlice p: p.Values.Release(); break;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            Close(e is OperationCanceledException ? null : $"sending failed: {e.Message}");
        }
    }

    private void ReadLoop(IActorRef deliverTo, IActorRef from)
    {
        try
        {
            using var buffered = new BufferedStream(_stream, BufferBytes);
            using var reader = new BinaryReader(buffered, Encoding.UTF8, leaveOpen: true);
            while (IsOpen)
            {
                string manifest = ProtocolCodec.ReadManifest(reader);
                long start = Stopwatch.GetTimestamp();
                var message = ProtocolCodec.Read(reader, manifest, _maxLength);
                ProtocolCodec.Count(0, 0, 0, Stopwatch.GetElapsedTime(start).Ticks);
                deliverTo.Tell(message, from);
                Interlocked.Increment(ref s_delivered);
            }
        }
        catch (EndOfStreamException)
        {
            // The peer closed the connection between messages: the end of a run, or a peer that left
            // (Akka's membership reports departures; nothing to add here).
            Close(null);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Close($"receiving failed: {e.Message}");
        }
        catch (Exception e)
        {
            // Anything else is the peer's bytes (or a bug) and must not escape this thread, which
            // would end the process: the connection closes, the node runs on.
            Close($"sent an undecodable message ({e.GetType().Name}: {e.Message}); connection closed");
        }
    }

    private void Close(string? why)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (why is not null) _log($"data plane: connection with {_peer} {why}; its messages go over Akka.Remote");
        _outbox.Writer.TryComplete();
        _closed.Cancel();
        _stream.Dispose();
        Closed(this);
        // What was queued (or half written) still reaches the peer, over Akka.Remote; a duplicate is dropped there.
        if (Interlocked.Exchange(ref _writing, null) is { } current) _remote.Tell(current, _self);
        while (_outbox.Reader.TryRead(out var queued)) _remote.Tell(queued, _self);
    }

    public void Dispose() => Close(null);
}
