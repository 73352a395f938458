using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Protocol.DataPlane;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Tests.Cluster;

/// <summary>The tensor data plane on its own: tickets, delivery with the right sender, refusal and fallback to Akka.</summary>
public sealed class DataPlaneSpecs() : Akka.TestKit.Xunit2.TestKit(new ClusterSettings(Roles.Coordinator).CreateSystem()), IDisposable
{
    private readonly List<string> _log = [];
    private DataPlaneServer? _server;
    private DataPlaneClient? _client;

    private void Note(string line)
    {
        lock (_log) _log.Add(line);
    }

    private bool Logged(string text)
    {
        lock (_log) return _log.Any(l => l.Contains(text));
    }

    void IDisposable.Dispose()
    {
        _client?.Dispose();
        _server?.Dispose();
        Shutdown();
    }

    private static float[] Tensor(int n, int seed) => Enumerable.Range(0, n).Select(i => MathF.Sin(i * 0.37f + seed) * 1e-3f).ToArray();

    private (Akka.TestKit.TestProbe Coordinator, Akka.TestKit.TestProbe Worker) Connected()
    {
        var (coordinator, worker) = (CreateTestProbe(), CreateTestProbe());
        _server = DataPlaneServer.Start("127.0.0.1", "127.0.0.1", 0, null, Note);
        _client = new DataPlaneClient(null, Note);
        var ticket = _server.Offer(worker.Ref, coordinator.Ref);
        Assert.NotNull(ticket);
        _client.Accept(ticket, coordinator.Ref, worker.Ref);
        AwaitCondition(() => _client.IsConnected && _server.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        return (coordinator, worker);
    }

    [Fact]
    public void Weights_and_gradients_should_cross_the_connection_bit_for_bit_from_the_right_sender()
    {
        var (coordinator, worker) = Connected();
        var weights = Tensor(235_146, 1);
        var work = new ComputePieces("run", 3, 3, TensorEnvelope.Of(weights), [new PieceAssignment(0, [5, 6, 7], [0, 1, 3])]);
        _server!.Send(worker.Ref, work, coordinator.Ref);
        var received = worker.ExpectMsg<ComputePieces>();
        // A different object: it was written to the socket and read back, not handed over in memory.
        Assert.NotSame(work, received);
        Assert.Equal(coordinator.Ref, worker.LastSender);
        Assert.Equal(weights.Select(BitConverter.SingleToInt32Bits), received.Weights!.Inline.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal([0, 1, 3], received.Shards[0].Segments!);

        var gradient = Tensor(235_146, 2);
        var result = new PieceResult("run", 3, 0, 3, 1.5, 2, TensorEnvelope.Of(gradient), 0.7, ShardCount: 2);
        _client!.Send(coordinator.Ref, result, worker.Ref);
        var back = coordinator.ExpectMsg<PieceResult>();
        Assert.NotSame(result, back);
        Assert.Equal(worker.Ref, coordinator.LastSender);
        Assert.Equal(2, back.ShardCount);
        Assert.Equal(gradient.Select(BitConverter.SingleToInt32Bits), back.GradientSum.Inline.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void A_ticket_should_open_one_connection_only_and_a_forged_one_none()
    {
        var (coordinator, worker) = Connected();
        var used = new DataPlaneTicket("127.0.0.1", _server!.Port, "not-a-ticket");
        using var intruder = new DataPlaneClient(null, Note);
        var stranger = CreateTestProbe();
        intruder.Accept(used, coordinator.Ref, stranger.Ref);
        AwaitCondition(() => Logged("refused this worker's ticket"), TimeSpan.FromSeconds(10));
        Assert.True(Logged("unknown or used ticket"));
        Assert.False(intruder.IsConnected);
        // Without a connection, messages still arrive, over Akka (the same object, handed over in memory).
        var result = new PieceResult("run", 0, 0, 1, 1, 1, TensorEnvelope.Of([1f]), 0);
        intruder.Send(coordinator.Ref, result, stranger.Ref);
        Assert.Same(result, coordinator.ExpectMsg<PieceResult>());
    }

    [Fact]
    public void When_a_worker_goes_away_the_coordinator_should_fall_back_to_Akka()
    {
        var (coordinator, worker) = Connected();
        _client!.Dispose();
        AwaitCondition(() => !_server!.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        var work = new ComputePieces("run", 1, 1, null, [new PieceAssignment(0, [1])]);
        _server!.Send(worker.Ref, work, coordinator.Ref);
        Assert.Same(work, worker.ExpectMsg<ComputePieces>());
    }

    [Fact]
    public void A_tensor_longer_than_the_frame_size_allows_should_close_the_connection_not_be_allocated()
    {
        var (coordinator, worker) = (CreateTestProbe(), CreateTestProbe());
        _server = DataPlaneServer.Start("127.0.0.1", "127.0.0.1", 0, null, Note, maxMessageBytes: 4000);
        _client = new DataPlaneClient(null, Note);
        _client.Accept(_server.Offer(worker.Ref, coordinator.Ref), coordinator.Ref, worker.Ref);
        AwaitCondition(() => _client.IsConnected && _server.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        _client.Send(coordinator.Ref, new PieceResult("run", 0, 0, 1, 1, 1, TensorEnvelope.Of(new float[2000]), 0), worker.Ref);
        AwaitCondition(() => Logged("at most 1000"), TimeSpan.FromSeconds(10));
        AwaitCondition(() => !_server.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_plain_client_should_not_get_past_a_TLS_data_plane()
    {
        var tls = TlsSpecs.MakeCertificates(Path.Combine(Path.GetTempPath(), $"dp-tls-{Guid.NewGuid():N}"), "cluster-ca", "node");
        var (coordinator, worker) = (CreateTestProbe(), CreateTestProbe());
        _server = DataPlaneServer.Start("127.0.0.1", "127.0.0.1", 0, tls, Note);
        _client = new DataPlaneClient(null, Note);
        _client.Accept(_server.Offer(worker.Ref, coordinator.Ref), coordinator.Ref, worker.Ref);
        AwaitCondition(() => Logged("cannot connect to"), TimeSpan.FromSeconds(15));
        Assert.False(_server.IsConnected(worker.Ref));

        // With the cluster's certificate the same ticket flow works.
        using var member = new DataPlaneClient(tls, Note);
        member.Accept(_server.Offer(worker.Ref, coordinator.Ref), coordinator.Ref, worker.Ref);
        AwaitCondition(() => member.IsConnected && _server.IsConnected(worker.Ref), TimeSpan.FromSeconds(15));
        var work = new ComputePieces("run", 1, 1, TensorEnvelope.Of(Tensor(1000, 3)), [new PieceAssignment(0, [1])]);
        _server.Send(worker.Ref, work, coordinator.Ref);
        Assert.NotSame(work, worker.ExpectMsg<ComputePieces>());
    }

    /// <summary>Opens a data connection by hand with a valid ticket (as a hostile insider could), ready for raw bytes.</summary>
    private static System.Net.Sockets.NetworkStream RawConnection(DataPlaneTicket ticket)
    {
        var client = new System.Net.Sockets.TcpClient("127.0.0.1", ticket.Port);
        var stream = client.GetStream();
        var token = System.Text.Encoding.ASCII.GetBytes(ticket.Token);
        stream.Write([.. "DPL1"u8, (byte)token.Length, .. token]);
        Assert.Equal(1, stream.ReadByte());
        return stream;
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]                         // a 7-bit length that never ends
    [InlineData(new byte[] { 2, (byte)'S', (byte)'R', 0xFF, 0xFF, 0xFF, 0xFF, 0x07 })]    // a run id declared 2 GB long
    [InlineData(new byte[] { 2, (byte)'Z', (byte)'Z', 1, 2, 3 })]                           // an unknown message
    [InlineData(new byte[] { 2, (byte)'R', (byte)'J', 2, 0xC3, 0x28 })]                     // invalid UTF-8
    public void Malformed_bytes_on_a_data_connection_should_close_it_and_leave_the_node_running(byte[] garbage)
    {
        var (coordinator, worker) = (CreateTestProbe(), CreateTestProbe());
        _server = DataPlaneServer.Start("127.0.0.1", "127.0.0.1", 0, null, Note);
        using var stream = RawConnection(_server.Offer(worker.Ref, coordinator.Ref)!);
        AwaitCondition(() => _server.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        stream.Write(garbage);
        stream.Flush();
        AwaitCondition(() => !_server.IsConnected(worker.Ref), TimeSpan.FromSeconds(10));
        Assert.True(Logged("undecodable message") || Logged("receiving failed"), string.Join("\n", _log));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The node runs on: a new worker connects and its messages arrive.
        _client = new DataPlaneClient(null, Note);
        var other = CreateTestProbe();
        _client.Accept(_server.Offer(other.Ref, coordinator.Ref), coordinator.Ref, other.Ref);
        AwaitCondition(() => _client.IsConnected && _server.IsConnected(other.Ref), TimeSpan.FromSeconds(10));
        _client.Send(coordinator.Ref, new WorkerFailed("run", "fine"), other.Ref);
        Assert.Equal("fine", coordinator.ExpectMsg<WorkerFailed>().Reason);
    }
}
