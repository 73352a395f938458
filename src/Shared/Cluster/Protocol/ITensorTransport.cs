using Akka.Actor;

namespace Distributed.Shared.Protocol;

/// <summary>
/// How the protocol messages that carry tensors (weights out, gradients back) travel between the
/// coordinator and a worker. Actors decide what to send and to whom; a transport decides the wire:
/// <see cref="AkkaRemoteTransport"/> uses Akka.Remote, <see cref="DataPlane.DataPlaneServer"/> and
/// <see cref="DataPlane.DataPlaneClient"/> a dedicated TCP connection per worker. Either way the
/// message arrives in the recipient's mailbox with the same sender, so actors cannot tell the difference.
/// </summary>
public interface ITensorTransport
{
    /// <summary>Coordinator side: the ticket a newly welcomed worker uses to connect (null: no data plane). Messages arriving on that connection go to <paramref name="self"/> from <paramref name="worker"/>.</summary>
    DataPlaneTicket? Offer(IActorRef worker, IActorRef self);

    /// <summary>Worker side: connect with the coordinator's ticket (null: none offered). Messages arriving go to <paramref name="self"/> from <paramref name="coordinator"/>.</summary>
    void Accept(DataPlaneTicket? ticket, IActorRef coordinator, IActorRef self);

    /// <summary>Sends over the data plane when the recipient is connected to it, else over Akka.Remote.</summary>
    void Send(IActorRef recipient, IClusterMessage message, IActorRef sender);

    /// <summary>The peer is gone or no longer trusted: drop its connection.</summary>
    void Forget(IActorRef peer);

    /// <summary>Worker side, peer exchange: connect to another worker with the ticket it offered (a transport without peer links ignores it).</summary>
    void Connect(DataPlaneTicket ticket, IActorRef peer, IActorRef self) { }
}
