namespace Distributed.Shared.Protocol;

/// <summary>How large one message between nodes may be, over Akka.Remote and over the tensor data plane alike.</summary>
public static class MessageLimits
{
    /// <summary>
    /// 16,000,000 bytes. Akka.Remote's default, 128,000 bytes, silently drops a message any larger
    /// ("Discarding oversized payload") and the sender never hears back. Weights and gradients
    /// travel as one message of 4 bytes per parameter plus a few hundred bytes; under the peer
    /// exchange a joining replica gets the weights with Adam's two moments, 12 bytes per parameter.
    /// So this fits the CNN preset (1,199,882 parameters: 4.8 MB, 14.4 MB with its state) and any
    /// model up to ~3,980,000 parameters (~1,330,000 with the peer exchange and Adam). The
    /// coordinator refuses a larger model at start-up with an error naming this limit.
    /// </summary>
    public const int DefaultMaximumFrameSize = 16_000_000;
}
