using System.Runtime.Serialization;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.PeerProtocol;
using static Distributed.Shared.Protocol.StandbyProtocol;
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
                WriteTensor(w, m.GradientSum); w.Write(m.ComputeMilliseconds); w.Write(m.ShardCount); w.Write(m.Attempt);
            },
            (r, budget) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), ReadTensor(r, budget), r.ReadDouble(), r.ReadInt32(),
                r.ReadInt32())),
        Of<NeedState>("NS",
            (w, m) => { w.Write(m.RunId); w.Write(m.Step); },
            (r, _) => new(ReadText(r), r.ReadInt64())),
        Of<PieceSlice>("PS",
            (w, m) => { w.Write(m.RunId); w.Write(m.Step); w.Write(m.Attempt); w.Write(m.First); w.Write(m.Count); w.Write(m.Samples); w.Write(m.Slice); w.Write(m.Chunk); WriteTensor(w, m.Values); },
            (r, budget) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), ReadTensor(r, budget))),
        Of<LinkRequest>("LQ",
            (w, m) => w.Write(m.RunId),
            (r, _) => new(ReadText(r))),
        Of<LinkOffer>("LO",
            (w, m) => { w.Write(m.RunId); w.Write(m.Ticket.Host); w.Write(m.Ticket.Port); w.Write(m.Ticket.Token); },
            (r, _) => new(ReadText(r), new DataPlaneTicket(ReadText(r), r.ReadInt32(), ReadText(r)))),
        Of<ReducedSlice>("RD",
            (w, m) => { w.Write(m.RunId); w.Write(m.Step); w.Write(m.Attempt); w.Write(m.Slice); w.Write(m.Chunk); WriteTensor(w, m.Sum); },
            (r, budget) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), ReadTensor(r, budget))),
        Of<SliceSent>("SN",
            (w, m) => { w.Write(m.RunId); w.Write(m.Step); w.Write(m.Attempt); w.Write(m.Slice); },
            (r, _) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadInt32())),
        Of<SendState>("SQ",
            (w, m) => { w.Write(m.RunId); w.Write(m.Step); w.Write(m.Attempt); w.Write(m.Rate); },
            (r, _) => new(ReadText(r), r.ReadInt64(), r.ReadInt32(), r.ReadSingle())),
        Of<ReplicaState>("ST",
            (w, m) => { w.Write(m.RunId); w.Write(m.Version); WriteTensor(w, m.Weights); WriteOptimizer(w, m.Optimizer); },
            (r, budget) => new(ReadText(r), r.ReadInt64(), ReadTensor(r, budget), ReadOptimizer(r, budget))),
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
                w.Write(m.Optimizer is not null);
                if (m.Optimizer is { } o) { w.Write(o.Name); w.Write(o.Momentum); w.Write(o.WeightDecay); }
                w.Write(m.Term);
            },
            (r, _) => new(ReadText(r), ReadModel(r), new DataSpec(r.ReadInt32(), ReadText(r)), r.ReadInt32(),
                r.ReadBoolean() ? new DataPlaneTicket(ReadText(r), r.ReadInt32(), ReadText(r)) : null, ReadWire(r),
                r.ReadBoolean() ? new CoordinatorProof(ReadText(r), ReadText(r)) : null,
                r.ReadBoolean() ? new ReplicaOptimizer(ReadText(r), r.ReadSingle(), r.ReadSingle()) : null, r.ReadInt64())),
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
                w.Write(m.Peers is not null);
                if (m.Peers is { } p) WritePeerWork(w, p);
            },
            (r, budget) =>
            {
                string runId = ReadText(r);
                long step = r.ReadInt64();
                long version = r.ReadInt64();
                var weights = r.ReadBoolean() ? ReadTensor(r, budget) : null;
                var shards = new PieceAssignment[ReadLength(r, "shard count", budget)];
                for (int i = 0; i < shards.Length; i++) shards[i] = new PieceAssignment(r.ReadInt32(), ReadInts(r, budget), r.ReadBoolean() ? ReadInts(r, budget) : null);
                return new(runId, step, version, weights, shards, r.ReadBoolean() ? ReadPeerWork(r, budget) : null);
            }),
        Of<RunFinished>("RF",
            (w, m) => { w.Write(m.RunId); w.Write(m.FinalWeightsSha256); },
            (r, _) => new(ReadText(r), ReadText(r))),
        Of<SnapshotPart>("SP",
            (w, m) => { w.Write(m.RunId); w.Write(m.Term); w.Write(m.Step); w.Write(m.Index); w.Write(m.Count); w.Write(m.Bytes.Length); w.Write(m.Bytes); w.Write((byte)m.Wire); w.Write(m.Peers); },
            (r, budget) =>
            {
                string runId = ReadText(r);
                long term = r.ReadInt64(), step = r.ReadInt64();
                int index = r.ReadInt32(), count = r.ReadInt32();
                var bytes = new byte[ReadLength(r, "snapshot part length", budget, elementBytes: 1)];
                ReadExactly(r, bytes, $"snapshot part of {bytes.Length} bytes");
                var wire = ReadWire(r);
                bool peers = r.ReadBoolean();
                if (count < 1 || index < 0 || index >= count) throw new SerializationException($"Corrupt message: snapshot part {index} of {count}.");
                return new SnapshotPart(runId, term, step, index, count, bytes, wire, peers);
            }),
        Of<RunOver>("RO",
            (w, m) => { w.Write(m.RunId); w.Write(m.Finished); w.Write(m.Reason); },
            (r, _) => new(ReadText(r), r.ReadBoolean(), ReadText(r))),
        Of<RunStopped>("RS",
            (w, m) => { w.Write(m.RunId); w.Write(m.Reason); },
            (r, _) => new(ReadText(r), ReadText(r))),
    ];

    private static void WritePeerWork(BinaryWriter w, PeerWork p)
    {
        w.Write(p.Attempt);
        w.Write(p.Owners.Length);
        foreach (string owner in p.Owners) w.Write(owner);
        WriteInts(w, p.ShardSamples);
        w.Write(p.Blocks); w.Write(p.AppliedStep); w.Write(p.AppliedAttempt); w.Write(p.AppliedRate);
        w.Write(p.WeightsSha256 ?? "");
        WriteOptimizer(w, p.Optimizer);
    }

    private static void WriteOptimizer(BinaryWriter w, Optimizers.OptimizerState? state)
    {
        w.Write(state is not null);
        if (state is not { } o) return;
        w.Write(o.Kind); w.Write(o.Steps); w.Write(o.Slots.Length);
        foreach (var slot in o.Slots) WriteTensor(w, TensorEnvelope.Of(slot));
    }

    private static Optimizers.OptimizerState? ReadOptimizer(BinaryReader r, Budget budget)
    {
        if (!r.ReadBoolean()) return null;
        string kind = ReadText(r);
        long steps = r.ReadInt64();
        var slots = new float[ReadLength(r, "optimizer slot count", budget, elementBytes: 0)][];
        for (int i = 0; i < slots.Length; i++) slots[i] = ReadTensor(r, budget).Inline;
        return new Optimizers.OptimizerState(kind, steps, slots);
    }

    private static PeerWork ReadPeerWork(BinaryReader r, Budget budget)
    {
        int attempt = r.ReadInt32();
        var owners = new string[ReadLength(r, "owner count", budget, elementBytes: 0)];
        for (int i = 0; i < owners.Length; i++) owners[i] = ReadText(r);
        var sizes = ReadInts(r, budget);
        int blocks = r.ReadInt32();
        long appliedStep = r.ReadInt64();
        int appliedAttempt = r.ReadInt32();
        float rate = r.ReadSingle();
        string hash = ReadText(r);
        var state = ReadOptimizer(r, budget);
        if (owners.Length == 0 || blocks < 1 || blocks > sizes.Length) throw new SerializationException($"Corrupt message: peer work of {owners.Length} owners and {blocks} blocks over {sizes.Length} shards.");
        return new PeerWork(attempt, owners, sizes, blocks, appliedStep, appliedAttempt, rate, state, hash.Length == 0 ? null : hash);
    }

    private static readonly Dictionary<Type, MessageCodec> s_byType = s_messages.ToDictionary(c => c.Type);
    private static readonly Dictionary<string, MessageCodec> s_byManifest = s_messages.ToDictionary(c => c.Manifest);

    private static MessageCodec CodecOf(object message) =>
        s_byType.TryGetValue(message.GetType(), out var codec) ? codec : throw new ArgumentException($"{message.GetType()} is not a protocol message.");
}
