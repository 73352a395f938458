using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Shared.Protocol;

/// <summary>
/// The wire format of every <see cref="IClusterMessage"/>: little-endian fields, tensors as raw
/// float32 bytes. Used by the Akka serializer (<see cref="ProtocolSerializer"/>) and by the tensor
/// data plane, which writes the same format straight onto a socket.
/// </summary>
public static class ProtocolCodec
{
    /// <summary>No tensor of a model this trainer builds comes near this; a larger length means a corrupt stream.</summary>
    public const int MaxTensorLength = 1 << 28;

    private static long s_bytesWritten, s_bytesRead, s_ticks, s_readTicks;

    /// <summary>Bytes of protocol messages written (sent) and read (received), time spent doing it; process-wide.</summary>
    public static (long Bytes, TimeSpan Serialize, TimeSpan Deserialize) Totals =>
        (Interlocked.Read(ref s_bytesWritten), TimeSpan.FromTicks(Interlocked.Read(ref s_ticks)), TimeSpan.FromTicks(Interlocked.Read(ref s_readTicks)));

    /// <summary>Bytes of protocol messages read (received), process-wide.</summary>
    public static long BytesRead => Interlocked.Read(ref s_bytesRead);

    public static void Count(long bytesWritten, long bytesRead, long writeTicks, long readTicks)
    {
        if (bytesWritten != 0) Interlocked.Add(ref s_bytesWritten, bytesWritten);
        if (bytesRead != 0) Interlocked.Add(ref s_bytesRead, bytesRead);
        if (writeTicks != 0) Interlocked.Add(ref s_ticks, writeTicks);
        if (readTicks != 0) Interlocked.Add(ref s_readTicks, readTicks);
    }

    public static string Manifest(object o) => o switch
    {
        RegisterWorker => "RW",
        ShardResult => "SR",
        WorkerFailed => "WF",
        Welcome => "WE",
        Rejected => "RJ",
        ComputeShards => "CS",
        RunFinished => "RF",
        _ => throw new ArgumentException($"{o.GetType()} is not a protocol message."),
    };

    /// <summary>Upper bound of the encoded size, so buffers are sized once (a growing stream would copy a 940 KB tensor several times).</summary>
    public static int SizeHint(object o) => 256 + 4 * o switch
    {
        ShardResult m => m.GradientSum.Length + 1,
        ComputeShards m => (m.Weights?.Length ?? 0) + m.Shards.Sum(s => s.Samples.Length + (s.Segments?.Length ?? 0) + 3),
        _ => 0,
    };

    public static void Write(BinaryWriter w, object obj)
    {
        switch (obj)
        {
            case RegisterWorker m: w.Write(m.Name); w.Write(m.Threads); break;
            case ShardResult m:
                w.Write(m.RunId); w.Write(m.Step); w.Write(m.Shard); w.Write(m.Samples); w.Write(m.LossSum); w.Write(m.Correct);
                WriteTensor(w, m.GradientSum); w.Write(m.ComputeMilliseconds); w.Write(m.ShardCount);
                break;
            case WorkerFailed m: w.Write(m.RunId); w.Write(m.Reason); break;
            case Welcome m:
                w.Write(m.RunId); w.Write(m.Model.Inputs); WriteInts(w, m.Model.Hidden); w.Write(m.Model.Classes);
                w.Write(m.Data.TrainSamples); w.Write(m.Data.Fingerprint); w.Write(m.StepsPerEpoch);
                w.Write(m.DataPlane is not null);
                if (m.DataPlane is { } t) { w.Write(t.Host); w.Write(t.Port); w.Write(t.Token); }
                w.Write((byte)m.Wire);
                break;
            case Rejected m: w.Write(m.Reason); break;
            case ComputeShards m:
                w.Write(m.RunId); w.Write(m.Step); w.Write(m.WeightsVersion);
                w.Write(m.Weights is not null);
                if (m.Weights is not null) WriteTensor(w, m.Weights);
                w.Write(m.Shards.Length);
                foreach (var s in m.Shards)
                {
                    w.Write(s.Shard); WriteInts(w, s.Samples);
                    w.Write(s.Segments is not null);
                    if (s.Segments is not null) WriteInts(w, s.Segments);
                }
                break;
            case RunFinished m: w.Write(m.RunId); w.Write(m.FinalWeightsSha256); break;
            default: throw new ArgumentException($"{obj.GetType()} is not a protocol message.");
        }
    }

    /// <param name="maxLength">Largest tensor or index array accepted: a longer one means a corrupt or hostile stream.</param>
    public static object Read(BinaryReader r, string manifest, int maxLength = MaxTensorLength) => manifest switch
    {
        "RW" => new RegisterWorker(r.ReadString(), r.ReadInt32()),
        "SR" => new ShardResult(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), ReadTensor(r, maxLength), r.ReadDouble(), r.ReadInt32()),
        "WF" => new WorkerFailed(r.ReadString(), r.ReadString()),
        "WE" => new Welcome(r.ReadString(), new ModelSpec(r.ReadInt32(), ReadInts(r, maxLength), r.ReadInt32()), new DataSpec(r.ReadInt32(), r.ReadString()), r.ReadInt32(),
            r.ReadBoolean() ? new DataPlaneTicket(r.ReadString(), r.ReadInt32(), r.ReadString()) : null, (TensorWire)r.ReadByte()),
        "RJ" => new Rejected(r.ReadString()),
        "CS" => ReadComputeShards(r, maxLength),
        "RF" => new RunFinished(r.ReadString(), r.ReadString()),
        _ => throw new SerializationException($"Unknown protocol manifest '{manifest}'."),
    };

    /// <summary>Encodes a message into one array (the Akka serializer's contract).</summary>
    public static byte[] ToBytes(object obj)
    {
        long start = Stopwatch.GetTimestamp();
        using var stream = new MemoryStream(SizeHint(obj));
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) Write(w, obj);
        var bytes = stream.ToArray();
        Count(bytes.Length, 0, Stopwatch.GetElapsedTime(start).Ticks, 0);
        return bytes;
    }

    public static object FromBytes(byte[] bytes, string manifest)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            return Read(r, manifest);
        }
        finally
        {
            Count(0, bytes.Length, 0, Stopwatch.GetElapsedTime(start).Ticks);
        }
    }

    private static ComputeShards ReadComputeShards(BinaryReader r, int maxLength)
    {
        string runId = r.ReadString();
        long step = r.ReadInt64();
        long version = r.ReadInt64();
        var weights = r.ReadBoolean() ? ReadTensor(r, maxLength) : null;
        var shards = new ShardAssignment[ReadLength(r, "shard count", maxLength)];
        for (int i = 0; i < shards.Length; i++) shards[i] = new ShardAssignment(r.ReadInt32(), ReadInts(r, maxLength), r.ReadBoolean() ? ReadInts(r, maxLength) : null);
        return new ComputeShards(runId, step, version, weights, shards);
    }

    private static void WriteTensor(BinaryWriter w, TensorEnvelope t)
    {
        var values = t.Inline;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The wire format is little-endian.");
        w.Write(values.Length);
        w.Write((byte)t.Wire);
        if (t.Wire == TensorWire.Float32)
        {
            w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }
        var half = System.Buffers.ArrayPool<ushort>.Shared.Rent(values.Length);
        try
        {
            BFloat16.Encode(values, half);
            w.Write(MemoryMarshal.AsBytes(half.AsSpan(0, values.Length)));
        }
        finally
        {
            System.Buffers.ArrayPool<ushort>.Shared.Return(half);
        }
    }

    private static TensorEnvelope ReadTensor(BinaryReader r, int maxLength)
    {
        // Filled from the stream below; the receiver returns it to the pool once used.
        var values = TensorPool.Rent(ReadLength(r, "tensor length", maxLength));
        var wire = (TensorWire)r.ReadByte();
        switch (wire)
        {
            case TensorWire.Float32:
                ReadExactly(r, MemoryMarshal.AsBytes(values.AsSpan()), $"tensor of {values.Length} floats");
                break;
            case TensorWire.BFloat16:
                var half = System.Buffers.ArrayPool<ushort>.Shared.Rent(values.Length);
                try
                {
                    ReadExactly(r, MemoryMarshal.AsBytes(half.AsSpan(0, values.Length)), $"tensor of {values.Length} bfloat16 values");
                    BFloat16.Decode(half.AsSpan(0, values.Length), values);
                }
                finally
                {
                    System.Buffers.ArrayPool<ushort>.Shared.Return(half);
                }
                break;
            default:
                throw new SerializationException($"Corrupt message: tensor format {(byte)wire}.");
        }
        return new TensorEnvelope(values, Pooled: true, Wire: wire);
    }

    private static void WriteInts(BinaryWriter w, int[] values)
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static int[] ReadInts(BinaryReader r, int maxLength)
    {
        var values = new int[ReadLength(r, "integer array length", maxLength)];
        ReadExactly(r, MemoryMarshal.AsBytes(values.AsSpan()), $"integer array of {values.Length}");
        return values;
    }

    private static int ReadLength(BinaryReader r, string what, int maxLength)
    {
        int length = r.ReadInt32();
        if (length < 0 || length > maxLength) throw new SerializationException($"Corrupt message: {what} {length} (at most {maxLength}).");
        return length;
    }

    // A network stream may return fewer bytes than asked for; BinaryReader does not buffer ahead, so
    // reading its base stream directly is safe.
    private static void ReadExactly(BinaryReader r, Span<byte> into, string what)
    {
        try
        {
            r.BaseStream.ReadExactly(into);
        }
        catch (EndOfStreamException)
        {
            throw new SerializationException($"Message truncated in its {what}.");
        }
    }
}
