using Distributed.Shared.Protocol;
using static Distributed.Shared.Protocol.CoordinatorProtocol;

namespace Distributed.Tests.Cluster;

public class TensorPoolSpecs
{
    [Fact]
    public void A_received_tensor_should_come_from_the_pool_and_go_back_once_released()
    {
        var gradient = Enumerable.Range(0, 1001).Select(i => i * 0.5f).ToArray();
        var bytes = ProtocolCodec.ToBytes(new PieceResult("run", 1, 0, 3, 1, 1, TensorEnvelope.Of(gradient), 0));
        var received = (PieceResult)ProtocolCodec.FromBytes(bytes, "SR");
        Assert.True(received.GradientSum.Pooled);
        Assert.Equal(gradient, received.GradientSum.Inline);

        var array = received.GradientSum.Inline;
        received.GradientSum.Release();
        received.GradientSum.Release(); // a second release must not hand the same array out twice
        var next = (PieceResult)ProtocolCodec.FromBytes(bytes, "SR");
        var other = (PieceResult)ProtocolCodec.FromBytes(bytes, "SR");
        Assert.Same(array, next.GradientSum.Inline);
        Assert.NotSame(array, other.GradientSum.Inline);
        Assert.Equal(gradient, other.GradientSum.Inline);
    }

    [Fact]
    public void A_tensor_the_sender_made_itself_should_never_enter_the_pool()
    {
        var own = new float[1003];
        var envelope = TensorEnvelope.Of(own);
        envelope.Release();
        Assert.NotSame(own, TensorPool.Rent(1003));
    }
}
