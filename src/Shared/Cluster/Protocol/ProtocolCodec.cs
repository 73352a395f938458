using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;
using Distributed.Shared.Layers;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Shared.Protocol;

/// <summary>
/// The wire format of every <see cref="IClusterMessage"/>: little-endian fields, tensors as raw
/// float32 bytes. Used by the Akka serializer (<see cref="ProtocolSerializer"/>) and by the tensor
/// data plane, which writes the same format straight onto a socket. Each record's manifest, encoder
/// and decoder sit together in one entry of <c>ProtocolCodec.Messages.cs</c>; this file holds the
/// framing (version byte, caps) and the field codecs they share.
/// </summary>
public static partial class ProtocolCodec
{
    /// <summary>No tensor of a model this trainer builds comes near this; a larger length means a corrupt stream.</summary>
    public const int MaxTensorLength = 1 << 28;

    /// <summary>Longest string field in UTF-8 bytes: names, run ids, reasons and hashes are far shorter; a longer one means a corrupt or hostile stream.</summary>
    public const int MaxStringBytes = 4096;

    /// <summary>
    /// The wire format's version, the first byte of every message: a node of another version is
    /// refused with an error that says so, instead of misreading its fields.
    /// </summary>
    public const byte WireVersion = 3;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

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

    /// <summary>The message's manifest: the short name that tells a reader which record follows.</summary>
    public static string Manifest(object o) => CodecOf(o).Manifest;

    /// <summary>Upper bound of the encoded size, so buffers are sized once (a growing stream would copy a 940 KB tensor several times).</summary>
    public static int SizeHint(object o) => 256 + 4 * o switch
    {
        PieceResult m => m.GradientSum.Length + 1 + ZeroMask.MaskWords(m.GradientSum.Length) * 2,
        ComputePieces m => (m.Weights?.Length ?? 0) + m.Shards.Sum(s => s.Samples.Length + (s.Segments?.Length ?? 0) + 3)
            + (m.Peers is { } p ? p.ShardSamples.Length + 64 * p.Owners.Length + (p.Optimizer?.Slots.Sum(x => x.Length + 2) ?? 0) : 0),
        PeerProtocol.PieceSlice m => m.Values.Length + 1 + ZeroMask.MaskWords(m.Values.Length) * 2,
        PeerProtocol.ReducedSlice m => m.Sum.Length + 1 + ZeroMask.MaskWords(m.Sum.Length) * 2,
        ReplicaState m => m.Weights.Length + (m.Optimizer?.Slots.Sum(x => x.Length + 2) ?? 0),
        _ => 0,
    };

    public static void Write(BinaryWriter w, object obj)
    {
        var codec = CodecOf(obj);
        w.Write(WireVersion);
        codec.Write(w, obj);
    }

    /// <summary>
    /// Decodes one message. Whatever the bytes, the only exception is a <see cref="SerializationException"/>
    /// (a truncated stream included), and nothing larger than the caps is allocated: the caller closes
    /// the connection or drops the message, and the node runs on.
    /// </summary>
    /// <param name="maxLength">Largest tensor or index array accepted: a longer one means a corrupt or hostile stream.</param>
    public static object Read(BinaryReader r, string manifest, int maxLength = MaxTensorLength)
    {
        try
        {
            byte version = r.ReadByte();
            if (version != WireVersion)
                throw new SerializationException($"'{Printable(manifest)}' message in wire format version {version}; this node speaks version {WireVersion}: every node of a cluster must run the same release.");
            return ReadFields(r, manifest, new Budget(maxLength));
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or OverflowException or InvalidCastException)
        {
            throw new SerializationException($"Corrupt '{manifest}' message: {e.Message}", e);
        }
    }

    /// <summary>Reads a manifest (a short string) from a stream of messages; end of stream between messages stays <see cref="EndOfStreamException"/>.</summary>
    public static string ReadManifest(BinaryReader r)
    {
        try
        {
            return ReadText(r);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new SerializationException($"Corrupt message header: {e.Message}", e);
        }
    }

    private static object ReadFields(BinaryReader r, string manifest, Budget maxLength) =>
        s_byManifest.TryGetValue(manifest, out var codec) ? codec.Read(r, maxLength)
        : throw new SerializationException($"Unknown protocol manifest '{Printable(manifest)}'.");

    // The model: its inputs, its layers in the model-description syntax (read through the same parser
    // as --arch and model files, so a new layer kind needs no wire code of its own), then its seed.
    private static void WriteModel(BinaryWriter w, ModelSpec model)
    {
        w.Write(model.Inputs);
        w.Write(model.Description.LayersText);
        w.Write(model.Seed);
    }

    private static ModelSpec ReadModel(BinaryReader r)
    {
        int inputs = r.ReadInt32();
        if (inputs is < 1 or > LayerSpec.MaxWidth * 64) throw new SerializationException($"Corrupt message: a model of {inputs} inputs.");
        string layers = ReadText(r);
        try
        {
            return new ModelSpec(ModelDescription.Parse(inputs, layers), r.ReadInt32());
        }
        catch (FormatException e)
        {
            throw new SerializationException($"Corrupt message: model layers {e.Message}");
        }
    }

    /// <summary>A string field: its 7-bit-encoded byte length (as BinaryWriter writes it), capped before anything is allocated, then strict UTF-8.</summary>
    private static string ReadText(BinaryReader r)
    {
        int length = r.Read7BitEncodedInt();
        if (length < 0 || length > MaxStringBytes) throw new SerializationException($"Corrupt message: string of {length} bytes (at most {MaxStringBytes}).");
        Span<byte> bytes = length <= 256 ? stackalloc byte[length] : new byte[length];
        ReadExactly(r, bytes, $"string of {length} bytes");
        return s_strictUtf8.GetString(bytes);
    }

    private static string Printable(string s) => s.Length <= 8 && s.All(c => c is >= ' ' and <= '~') ? s : $"{s.Length} odd characters";

    private static TensorWire ReadWire(BinaryReader r) => AsWire(r.ReadByte());

    private static TensorWire AsWire(byte b)
    {
        if (!Enum.IsDefined((TensorWire)b)) throw new SerializationException($"Corrupt message: tensor format {b}.");
        return (TensorWire)b;
    }

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

    private static void WriteTensor(BinaryWriter w, TensorEnvelope t)
    {
        var values = t.Inline;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The wire format is little-endian.");
        w.Write(values.Length);
        if (t.Wire == TensorWire.Float32)
        {
            if (MaskZeros && ZeroMask.EncodedBytes(values.Length, ZeroMask.CountZeros(values)) <= 0.9 * 4 * values.Length) WriteMasked(w, values);
            else
            {
                w.Write((byte)TensorWire.Float32);
                w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            }
            return;
        }
        w.Write((byte)t.Wire);
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

    private static TensorEnvelope ReadTensor(BinaryReader r, Budget maxLength)
    {
        // Filled from the stream below; the receiver returns it to the pool once used.
        int length = ReadLength(r, "tensor length", maxLength, elementBytes: 0);
        byte format = r.ReadByte();
        if (format == ZeroMaskedFormat) return ReadMasked(r, length);
        var wire = AsWire(format);
        CheckRemaining(r, "tensor length", length, wire == TensorWire.Float32 ? 4 : 2);
        var values = TensorPool.Rent(length);
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
        }
        return new TensorEnvelope(values, Pooled: true, Wire: wire);
    }

    /// <summary>
    /// Exact tensors with many +0.0 values (gradients) travel zero-masked (<see cref="ZeroMask"/>):
    /// the same bits in fewer bytes. On by default; DISTRIBUTED_RAW_TENSORS=1 sends raw float32
    /// instead, for benchmarks that compare the two (the hash is the same either way).
    /// </summary>
    public static bool MaskZeros { get; set; } = Environment.GetEnvironmentVariable("DISTRIBUTED_RAW_TENSORS") != "1";

    /// <summary>The tensor format byte of a zero-masked float32 tensor (not a <see cref="TensorWire"/> a run chooses: exact float32 is).</summary>
    private const byte ZeroMaskedFormat = 2;

    // Length (already written), format, kept count, mask words, kept values.
    private static void WriteMasked(BinaryWriter w, float[] values)
    {
        var mask = System.Buffers.ArrayPool<ulong>.Shared.Rent(ZeroMask.MaskWords(values.Length));
        var kept = System.Buffers.ArrayPool<float>.Shared.Rent(values.Length);
        try
        {
            int n = ZeroMask.Encode(values, mask, kept);
            w.Write(ZeroMaskedFormat);
            w.Write(n);
            w.Write(MemoryMarshal.AsBytes(mask.AsSpan(0, ZeroMask.MaskWords(values.Length))));
            w.Write(MemoryMarshal.AsBytes(kept.AsSpan(0, n)));
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(mask);
            System.Buffers.ArrayPool<float>.Shared.Return(kept);
        }
    }

    private static TensorEnvelope ReadMasked(BinaryReader r, int length)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > length) throw new SerializationException($"Corrupt message: {n} kept values in a tensor of {length}.");
        int words = ZeroMask.MaskWords(length);
        CheckRemaining(r, "tensor mask", words, 8);
        CheckRemaining(r, "tensor values", n + 2 * words, 4);
        var mask = System.Buffers.ArrayPool<ulong>.Shared.Rent(words);
        var kept = System.Buffers.ArrayPool<float>.Shared.Rent(n);
        var values = TensorPool.Rent(length);
        try
        {
            ReadExactly(r, MemoryMarshal.AsBytes(mask.AsSpan(0, words)), $"mask of {words} words");
            ReadExactly(r, MemoryMarshal.AsBytes(kept.AsSpan(0, n)), $"tensor of {n} kept floats");
            ZeroMask.Decode(mask.AsSpan(0, words), kept.AsSpan(0, n), values);
        }
        catch
        {
            TensorPool.Return(values);
            throw;
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(mask);
            System.Buffers.ArrayPool<float>.Shared.Return(kept);
        }
        return new TensorEnvelope(values, Pooled: true, Wire: TensorWire.Float32);
    }

    private static void WriteInts(BinaryWriter w, int[] values)
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static int[] ReadInts(BinaryReader r, Budget maxLength)
    {
        var values = new int[ReadLength(r, "integer array length", maxLength)];
        ReadExactly(r, MemoryMarshal.AsBytes(values.AsSpan()), $"integer array of {values.Length}");
        return values;
    }

    // Every array of a message draws on one budget, so a message cannot claim more elements in all
    // than one tensor may hold; on a stream of known length, no array may claim more bytes than are left.
    private static int ReadLength(BinaryReader r, string what, Budget budget, int elementBytes = 4)
    {
        int length = r.ReadInt32();
        if (length < 0 || length > budget.Remaining) throw new SerializationException($"Corrupt message: {what} {length} (at most {budget.Remaining} left of {budget.Total}).");
        CheckRemaining(r, what, length, elementBytes);
        budget.Remaining -= length;
        return length;
    }

    private static void CheckRemaining(BinaryReader r, string what, int length, int elementBytes)
    {
        var stream = r.BaseStream;
        if (stream.CanSeek && (long)elementBytes * length > stream.Length - stream.Position)
            throw new SerializationException($"Message truncated: {what} {length} but only {stream.Length - stream.Position} bytes left.");
    }

    /// <summary>Elements (floats or integers) a message may still declare.</summary>
    private sealed class Budget(int total)
    {
        public int Total { get; } = total;
        public int Remaining { get; set; } = total;
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
