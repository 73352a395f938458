using Distributed.Shared.Protocol;
using static Distributed.Shared.Protocol.CoordinatorProtocol;

namespace Distributed.Tests.Cluster;

public class TensorWireSpecs
{
    private static ushort Encode(uint bits)
    {
        var into = new ushort[1];
        BFloat16.Encode([BitConverter.UInt32BitsToSingle(bits)], into);
        return into[0];
    }

    [Theory]
    [InlineData(0x3F800000u, 0x3F80)] // 1.0: exact
    [InlineData(0x3F808000u, 0x3F80)] // halfway, even below: down
    [InlineData(0x3F818000u, 0x3F82)] // halfway, odd below: up to even
    [InlineData(0x3F808001u, 0x3F81)] // just above halfway: up
    [InlineData(0x80000000u, 0x8000)] // −0 keeps its sign
    [InlineData(0x7F800000u, 0x7F80)] // +∞
    [InlineData(0x7F7FFFFFu, 0x7F80)] // float.MaxValue rounds to +∞, as round-to-nearest says
    [InlineData(0x7F800001u, 0x7FC0)] // a NaN whose payload is all in the low half stays NaN (not ∞)
    [InlineData(0xFFC00000u, 0xFFC0)] // −NaN
    public void Encoding_should_round_to_nearest_even_and_keep_NaNs(uint floatBits, int expected) =>
        Assert.Equal((ushort)expected, Encode(floatBits));

    [Fact]
    public void The_vector_and_scalar_paths_should_agree_and_decoding_should_be_exact()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 1037).Select(_ => (float)(random.NextDouble() * 2 - 1) * MathF.Pow(2, random.Next(-30, 30))).ToArray();
        values[3] = float.NaN;
        values[500] = float.NegativeInfinity;
        var vector = new ushort[values.Length];
        BFloat16.Encode(values, vector);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(Encode(BitConverter.SingleToUInt32Bits(values[i])), vector[i]); // one at a time takes the scalar path
        var back = new float[values.Length];
        BFloat16.Decode(vector, back);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal((uint)vector[i] << 16, BitConverter.SingleToUInt32Bits(back[i]));
            if (float.IsFinite(values[i])) Assert.True(MathF.Abs(back[i] - values[i]) <= MathF.Abs(values[i]) / 256, $"{values[i]} → {back[i]}");
        }
        Assert.True(float.IsNaN(back[3]));
    }

    [Fact]
    public void A_bfloat16_tensor_should_take_half_the_bytes_and_arrive_rounded()
    {
        var gradient = Enumerable.Range(0, 10_000).Select(i => MathF.Sin(i) * 1e-3f).ToArray();
        PieceResult Message(TensorWire wire) => new("run", 1, 0, 32, 1.0, 3, new TensorEnvelope(gradient, Wire: wire), 0.5);
        var exact = ProtocolCodec.ToBytes(Message(TensorWire.Float32));
        var half = ProtocolCodec.ToBytes(Message(TensorWire.BFloat16));
        Assert.InRange(half.Length, exact.Length / 2 - 100, exact.Length / 2 + 100);

        var received = (PieceResult)ProtocolCodec.FromBytes(half, "SR");
        Assert.Equal(TensorWire.BFloat16, received.GradientSum.Wire);
        var expected = new ushort[gradient.Length];
        BFloat16.Encode(gradient, expected);
        Assert.Equal(expected.Select(b => (uint)b << 16), received.GradientSum.Inline.Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(gradient, ((PieceResult)ProtocolCodec.FromBytes(exact, "SR")).GradientSum.Inline);
    }
}
