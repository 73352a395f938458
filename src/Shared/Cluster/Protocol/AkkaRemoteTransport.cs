using Akka.Actor;

namespace Distributed.Shared.Protocol;

/// <summary>Every message over Akka.Remote, tensors inline (raw little-endian float32 via <see cref="ProtocolSerializer"/>).</summary>
public sealed class AkkaRemoteTransport : ITensorTransport
{
    public static readonly AkkaRemoteTransport Instance = new();

    public DataPlaneTicket? Offer(IActorRef worker, IActorRef self) => null;

    public void Accept(DataPlaneTicket? ticket, IActorRef coordinator, IActorRef self) { }

    public void Send(IActorRef recipient, IClusterMessage message, IActorRef sender) => recipient.Tell(message, sender);

    public void Forget(IActorRef peer) { }
}
