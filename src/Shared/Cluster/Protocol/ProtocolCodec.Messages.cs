using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Shared.Protocol;

public static partial class ProtocolCodec
{
    /// <summary>One record on the wire: its manifest, how its fields are written and how they are read back, in the same order.</summary>
    private sealed record MessageCodec(string Manifest, Type Type, Action<BinaryWriter, object> Write, Func<BinaryReader, Budget, object> Read);

    private static MessageCodec Of<T>(string manifest, Action<BinaryWriter, T> write, Func<BinaryReader, Budget, T> read) where T : IClusterMessage =>
        new(manifest, typeof(T), (w, o) => write(w, (T)o), (r, budget) => read(r, budget));

    // Arguments are evaluated left to right, so each reader reads the fields in the order its writer wrote them.
    private static readonly MessageCodec[] s_messages =
    [
        Of<RegisterWorker>("RW",
            (w, m) => { w.Write(m.Name); w.Write(m.Threads); w.Write(m.Challenge); },
            (r, _) => new(ReadText(r), r.ReadInt32(), ReadText(r))),
        Of<PieceResult>("SR",
            (w, m) =>
            {
                w.Write(m.RunId); w.Write(m.Step); w.Write(m.Shard); w.Write(m.Samples); w.Write(m.LossSum); w.Write(m.Correct);
                WriteTensor(w, m.GradientSum); w.Write(m.ComputeMilliseconds); w.Write(m.ShardCount);
            },
            (r, budget) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), ReadTensor(r, budget), r.ReadDouble(), r.ReadInt32())),
        Of<WorkerFailed>("WF",
            (w, m) => { w.Write(m.RunId); w.Write(m.Reason); },
            (r, _) => new(ReadText(r), ReadText(r))),
        Of<Welcome>("WE",
            (w, m) =>
            {
                w.Write(m.RunId); WriteModel(w, m.Model);
                w.Write(m.Data.TrainSamples); w.Write(m.Data.Fingerprint); w.Write(m.StepsPerEpoch);
                w.Write(m.DataPlane is not null);
                if (m.DataPlane is { } t) { w.Write(t.Host); w.Write(t.Port); w.Write(t.Token); }
                w.Write((byte)m.Wire);
                w.Write(m.Proof is not null);
                if (m.Proof is { } p) { w.Write(p.Certificate); w.Write(p.Signature); }
            },
            (r, _) => new(ReadText(r), ReadModel(r), new DataSpec(r.ReadInt32(), ReadText(r)), r.ReadInt32(),
                r.ReadBoolean() ? new DataPlaneTicket(ReadText(r), r.ReadInt32(), ReadText(r)) : null, ReadWire(r),
                r.ReadBoolean() ? new CoordinatorProof(ReadText(r), ReadText(r)) : null)),
        Of<Rejected>("RJ",
            (w, m) => w.Write(m.Reason),
            (r, _) => new(ReadText(r))),
        Of<ComputePieces>("CS",
            (w, m) =>
            {
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
            },
            (r, budget) =>
            {
                string runId = ReadText(r);
                long step = r.ReadInt64();
                long version = r.ReadInt64();
                var weights = r.ReadBoolean() ? ReadTensor(r, budget) : null;
                var shards = new PieceAssignment[ReadLength(r, "shard count", budget)];
                for (int i = 0; i < shards.Length; i++) shards[i] = new PieceAssignment(r.ReadInt32(), ReadInts(r, budget), r.ReadBoolean() ? ReadInts(r, budget) : null);
                return new(runId, step, version, weights, shards);
            }),
        Of<RunFinished>("RF",
            (w, m) => { w.Write(m.RunId); w.Write(m.FinalWeightsSha256); },
            (r, _) => new(ReadText(r), ReadText(r))),
        Of<RunStopped>("RS",
            (w, m) => { w.Write(m.RunId); w.Write(m.Reason); },
            (r, _) => new(ReadText(r), ReadText(r))),
    ];

    private static readonly Dictionary<Type, MessageCodec> s_byType = s_messages.ToDictionary(c => c.Type);
    private static readonly Dictionary<string, MessageCodec> s_byManifest = s_messages.ToDictionary(c => c.Manifest);

    private static MessageCodec CodecOf(object message) =>
        s_byType.TryGetValue(message.GetType(), out var codec) ? codec : throw new ArgumentException($"{message.GetType()} is not a protocol message.");
}
