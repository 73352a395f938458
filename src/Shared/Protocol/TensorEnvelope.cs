namespace Distributed.Shared.Protocol;

/// <summary>
/// How a tensor appears inside a protocol message. The protocol says what is sent (weights of
/// version v, the gradient sum of shard s); the <see cref="ITensorTransport"/> decides how the
/// floats travel. With <see cref="InlineTensorTransport"/> they ride inside the message over
/// Akka.Remote; a dedicated data plane would put a reference here instead.
/// </summary>
/// <param name="Length">Number of floats (flat, in the model's parameter order).</param>
/// <param name="Inline">The floats themselves, when they travel inside the message.</param>
public sealed record TensorEnvelope(int Length, float[]? Inline)
{
    public static TensorEnvelope Of(float[] values) => new(values.Length, values);
}

/// <summary>Turns tensors into envelopes and back; actors use only this, never a wire format.</summary>
public interface ITensorTransport
{
    TensorEnvelope Wrap(float[] values);

    float[] Open(TensorEnvelope envelope);
}

/// <summary>Tensors inline in the Akka.Remote message (raw little-endian float32 via <see cref="ProtocolSerializer"/>).</summary>
public sealed class InlineTensorTransport : ITensorTransport
{
    public static readonly InlineTensorTransport Instance = new();

    public TensorEnvelope Wrap(float[] values) => TensorEnvelope.Of(values);

    public float[] Open(TensorEnvelope envelope) =>
        envelope.Inline ?? throw new InvalidOperationException("This transport carries tensors inline, but the envelope has none.");
}
