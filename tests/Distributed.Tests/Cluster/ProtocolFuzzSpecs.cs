using System.Runtime.Serialization;
using System.Text;
using Distributed.Shared.Protocol;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// The decoder against hostile bytes: mutated, truncated and inflated encodings of every message
/// either decode or fail with a <see cref="SerializationException"/>, and no length field makes it
/// allocate more than its caps allow.
/// </summary>
public sealed class ProtocolFuzzSpecs
{
    private static readonly object[] Messages =
    [
        new RegisterWorker("worker-1", 2, "0123456789abcdef"),
        new PieceResult("run", 12, 3, 32, 71.25, 30, TensorEnvelope.Of([1f, 2f, 3f, 4f]), 0.75, 1),
        new WorkerFailed("run", "data differs"),
        new Welcome("run", new ModelSpec(784, [256, 128], 10), new DataSpec(60000, "ff00"), 469, new DataPlaneTicket("127.0.0.1", 4000, "ABCD"), TensorWire.BFloat16,
            new CoordinatorProof("MIIBcert", "c2lnbmF0dXJl")),
        new Rejected("no"),
        new ComputePieces("run", 4, 3, TensorEnvelope.Of([0.5f, -0.5f]), [new PieceAssignment(1, [7, 8]), new PieceAssignment(2, [9, 10, 11], [0, 1, 3])]),
        new RunFinished("run", "abc"),
        new Shared.Protocol.StandbyProtocol.SnapshotPart("run", 2, 40, 0, 3, [1, 2, 3, 4, 5, 6, 7, 8], TensorWire.Float32, true),
        new Shared.Protocol.StandbyProtocol.RunOver("run", true, "finished"),
    ];

    /// <summary>Decodes, returning the exception if any (null: decoded).</summary>
    private static Exception? Decode(byte[] bytes, string manifest, bool seekable = true, int maxLength = ProtocolCodec.MaxTensorLength)
    {
        try
        {
            Stream stream = seekable ? new MemoryStream(bytes) : new ForwardOnly(bytes);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            ProtocolCodec.Read(reader, manifest, maxLength);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    public void Mutated_messages_should_decode_or_fail_with_a_serialization_error_only(int seed, bool seekable)
    {
        var random = new Random(seed);
        int decoded = 0, refused = 0;
        foreach (var message in Messages)
        {
            var valid = ProtocolCodec.ToBytes(message);
            string manifest = ProtocolCodec.Manifest(message);
            for (int trial = 0; trial < 1500; trial++)
            {
                var bytes = Mutate(valid, random);
                var error = Decode(bytes, manifest, seekable, maxLength: 1 << 16);
                if (error is null) decoded++;
                else if (error is SerializationException) refused++;
                else Assert.Fail($"{manifest} trial {trial}: {error.GetType().Name}: {error.Message}");
            }
        }
        // Both outcomes occur: the mutations reach past the first field.
        Assert.True(decoded > 100 && refused > 1000, $"decoded {decoded}, refused {refused}");
    }

    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = (byte[])valid.Clone();
        switch (random.Next(4))
        {
            case 0: // flip a few bytes
                for (int i = random.Next(1, 4); i > 0; i--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 1: // truncate
                return bytes[..random.Next(bytes.Length)];
            case 2: // a hostile 32-bit length anywhere
                int at = random.Next(Math.Max(1, bytes.Length - 4));
                BitConverter.TryWriteBytes(bytes.AsSpan(at), random.Next(3) switch { 0 => int.MaxValue, 1 => -1, _ => random.Next() });
                return bytes;
            default: // a 7-bit string length of 2 GB at the front, or garbage continuation bytes
                return [.. (random.Next(2) == 0 ? new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x07 } : new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }), .. bytes];
        }
    }

    [Fact]
    public void A_declared_2_GB_string_should_be_refused_before_anything_is_allocated()
    {
        var bytes = new byte[] { ProtocolCodec.WireVersion, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, (byte)'x' };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Decode(bytes, "RJ", seekable: false);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsType<SerializationException>(error);
        Assert.Contains($"at most {ProtocolCodec.MaxStringBytes}", error!.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Arrays_of_one_message_should_share_one_budget()
    {
        // Two integer arrays of 600 each fit a cap of 1000 apart, not together.
        var work = new ComputePieces("run", 1, 1, null, [new PieceAssignment(0, new int[600]), new PieceAssignment(1, new int[600])]);
        var error = Decode(ProtocolCodec.ToBytes(work), "CS", seekable: false, maxLength: 1000);
        Assert.IsType<SerializationException>(error);
        Assert.Contains("integer array length 600 (at most 398 left of 1000)", error!.Message);
        Assert.Null(Decode(ProtocolCodec.ToBytes(work), "CS", seekable: false, maxLength: 1300));
    }

    [Fact]
    public void A_length_beyond_the_bytes_received_should_be_refused_without_allocating_it()
    {
        var bytes = ProtocolCodec.ToBytes(new PieceResult("run", 1, 0, 1, 1, 1, TensorEnvelope.Of(new float[4]), 0));
        // The tensor's length field follows the run id (1 + 3 bytes) and 8 + 4 + 4 + 8 + 4 bytes of fields.
        BitConverter.TryWriteBytes(bytes.AsSpan(4 + 28), 200_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Decode(bytes, "SR");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.IsType<SerializationException>(error);
        Assert.Contains("truncated", error!.Message);
    }

    [Fact]
    public void An_unknown_manifest_or_tensor_format_should_be_a_serialization_error()
    {
        Assert.Contains("Unknown protocol manifest 'ZZ'", Decode([ProtocolCodec.WireVersion, 0], "ZZ")!.Message);
        var bytes = ProtocolCodec.ToBytes(new PieceResult("run", 1, 0, 1, 1, 1, TensorEnvelope.Of(new float[4]), 0));
        bytes[1 + 4 + 28 + 4] = 9; // version, run id, fixed fields, tensor length: the tensor's format byte
        Assert.Contains("tensor format 9", Assert.IsType<SerializationException>(Decode(bytes, "SR")).Message);
    }

    [Fact]
    public void A_message_of_another_wire_version_should_be_refused_saying_so()
    {
        var bytes = ProtocolCodec.ToBytes(new Rejected("no"));
        Assert.Equal(ProtocolCodec.WireVersion, bytes[0]);
        bytes[0] = ProtocolCodec.WireVersion + 1;
        var error = Assert.IsType<SerializationException>(Decode(bytes, "RJ"));
        Assert.Contains($"wire format version {ProtocolCodec.WireVersion + 1}; this node speaks version {ProtocolCodec.WireVersion}", error.Message);
    }

    /// <summary>A network-like stream: no length, no seeking.</summary>
    private sealed class ForwardOnly(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
