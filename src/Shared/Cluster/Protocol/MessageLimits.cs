namespace Distributed.Shared.Protocol;

/// <summary>How large one message between nodes may be, over Akka.Remote and over the tensor data plane alike.</summary>
public static class MessageLimits
{
    /// <summary>
    /// 8,000,000 bytes. Akka.Remote's default, 128,000 bytes, silently drops a message any larger
    /// ("Discarding oversized payload") and the sender never hears back. Weights and gradients
    /// travel as one message of 4 bytes per parameter plus a few hundred bytes, so this fits models
    /// up to ~1,983,000 parameters: the default MLP (235,146: 940,588 bytes) and the CNN preset
    /// (1,199,882: 4.8 MB) with room. The coordinator refuses a larger model at start-up with an
    /// error naming this limit.
    /// </summary>
    public const int DefaultMaximumFrameSize = 8_000_000;
}
