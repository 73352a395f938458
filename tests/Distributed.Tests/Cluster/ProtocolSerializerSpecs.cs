using Akka.Serialization;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Tests.Cluster;

public class ProtocolSerializerSpecs() : Akka.TestKit.Xunit2.TestKit(new ClusterSettings(Roles.Worker).CreateSystem())
{
    private T RoundTrip<T>(T message) where T : notnull
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ProtocolSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        return (T)((SerializerWithStringManifest)serializer).FromBinary(bytes, Serialization.ManifestFor(serializer, message));
    }

    [Fact]
    public void Every_protocol_record_should_have_its_own_codec_entry_and_manifest()
    {
        var types = typeof(IClusterMessage).Assembly.GetTypes().Where(t => typeof(IClusterMessage).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface).ToList();
        Assert.True(types.Count >= 8, string.Join(", ", types.Select(t => t.Name)));
        // A record added without a codec entry fails here, not on a live cluster.
        var manifests = types.Select(t => ProtocolCodec.Manifest(System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(t))).ToList();
        Assert.Equal(manifests.Count, manifests.Distinct().Count());
    }

    [Fact]
    public void Shard_results_should_travel_as_raw_floats_and_round_trip_exactly()
    {
        var gradient = new[] { 1.5f, -0f, float.Epsilon, 3.4e38f, float.NaN };
        var message = new PieceResult("run", 12, 3, 32, 71.25, 30, TensorEnvelope.Of(gradient), 0.75);
        var copy = RoundTrip(message);
        Assert.Equal(gradient.Select(BitConverter.SingleToInt32Bits), copy.GradientSum.Inline.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal((message.RunId, message.Step, message.Shard, message.Samples, message.LossSum, message.Correct, message.ComputeMilliseconds),
            (copy.RunId, copy.Step, copy.Shard, copy.Samples, copy.LossSum, copy.Correct, copy.ComputeMilliseconds));
    }

    [Fact]
    public void A_weights_message_should_cost_4_bytes_per_parameter_plus_a_little()
    {
        // Weights have no zeros to leave out (an all-zero tensor would travel zero-masked, in 4 % of this).
        var weights = Enumerable.Range(0, 235_146).Select(i => 0.01f * (i % 97 + 1)).ToArray();
        var message = new ComputePieces("run", 1, 1, TensorEnvelope.Of(weights), [new PieceAssignment(0, Enumerable.Range(0, 32).ToArray())]);
        var bytes = Sys.Serialization.FindSerializerFor(message).ToBinary(message);
        Assert.InRange(bytes.Length, 4 * 235_146, 4 * 235_146 + 400);
        Assert.True(bytes.Length < ClusterSettings.MessageBytesFor(235_146));
    }

    [Fact]
    public void Every_protocol_message_should_round_trip()
    {
        Assert.Equal(new RegisterWorker("w", 2, "c0ffee"), RoundTrip(new RegisterWorker("w", 2, "c0ffee")));
        Assert.Equal(new WorkerFailed("r", "why"), RoundTrip(new WorkerFailed("r", "why")));
        Assert.Equal(new Rejected("no"), RoundTrip(new Rejected("no")));
        Assert.Equal(new RunFinished("r", "abc"), RoundTrip(new RunFinished("r", "abc")));
        var welcome = RoundTrip(new Welcome("r", new ModelSpec(784, [256, 128], 10), new DataSpec(60000, "ff"), 469));
        Assert.Equal(469, welcome.StepsPerEpoch);
        Assert.Equal(Shared.Layers.ModelDescription.Mlp(784, [256, 128], 10), welcome.Model.Description);
        Assert.Equal("784-256-128-10", welcome.Model.Description.ToString());
        Assert.Equal((60000, "ff"), (welcome.Data.TrainSamples, welcome.Data.Fingerprint));
        // Any layer list travels, not only an MLP's.
        var other = new Shared.Layers.ModelDescription(4, [new Shared.Layers.LayerSpec.Dense(3), new Shared.Layers.LayerSpec.Dense(2), new Shared.Layers.LayerSpec.Relu()]);
        Assert.Equal(other, RoundTrip(new Welcome("r", new ModelSpec(other), new DataSpec(1, "ff"))).Model.Description);
        Assert.Null(welcome.Proof);
        var proven = RoundTrip(new Welcome("r", new ModelSpec(784, [16], 10), new DataSpec(1, "ff"), 1, Proof: new CoordinatorProof("Y2VydA==", "c2ln")));
        Assert.Equal(new CoordinatorProof("Y2VydA==", "c2ln"), proven.Proof);
        var work = RoundTrip(new ComputePieces("r", 4, 3, null, [new PieceAssignment(1, [7, 8]), new PieceAssignment(5, [])]));
        Assert.Null(work.Weights);
        Assert.Equal((4L, 3L), (work.Step, work.WeightsVersion));
        Assert.Equal([7, 8], work.Shards[0].Samples);
        Assert.Equal(5, work.Shards[1].Shard);
        Assert.Equal(1, welcome.Term);
        Assert.Equal(7, RoundTrip(new Welcome("r", new ModelSpec(784, [16], 10), new DataSpec(1, "ff"), Term: 7)).Term);
        Assert.Equal(new StandbyProtocol.RunOver("r", false, "interrupted"), RoundTrip(new StandbyProtocol.RunOver("r", false, "interrupted")));
    }

    [Fact]
    public void A_snapshot_part_should_carry_its_bytes_and_the_runs_exchange_exactly()
    {
        byte[] bytes = [0, 1, 2, 255, 128, 7];
        var part = RoundTrip(new StandbyProtocol.SnapshotPart("r", 3, 280, 1, 4, bytes, TensorWire.BFloat16, Peers: true));
        Assert.Equal(("r", 3L, 280L, 1, 4, TensorWire.BFloat16, true), (part.RunId, part.Term, part.Step, part.Index, part.Count, part.Wire, part.Peers));
        Assert.Equal(bytes, part.Bytes);
    }

    [Fact]
    public void A_snapshot_part_outside_its_count_should_be_refused()
    {
        var bytes = ProtocolCodec.ToBytes(new StandbyProtocol.SnapshotPart("r", 1, 0, 4, 4, [1]));
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => ProtocolCodec.Read(reader, "SP", ProtocolCodec.MaxTensorLength));
        Assert.Contains("snapshot part 4 of 4", error.Message);
    }
}
