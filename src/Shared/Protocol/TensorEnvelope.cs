namespace Distributed.Shared.Protocol;

/// <summary>
/// How a tensor appears inside a protocol message: its length and its floats, flat in the model's
/// parameter order. Which connection carries the message is the <see cref="ITensorTransport"/>'s business.
/// </summary>
/// <param name="Inline">The floats themselves.</param>
public sealed record TensorEnvelope(float[] Inline)
{
    /// <summary>Number of floats.</summary>
    public int Length => Inline.Length;

    public static TensorEnvelope Of(float[] values) => new(values);
}

/// <summary>
/// Where a worker connects for the tensor data plane, and the one-time token that proves the
/// connection belongs to the worker the coordinator welcomed (the Welcome travels over the
/// cluster's own, possibly TLS-protected, link).
/// </summary>
public sealed record DataPlaneTicket(string Host, int Port, string Token);
