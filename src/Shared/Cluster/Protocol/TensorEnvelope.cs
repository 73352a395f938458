namespace Distributed.Shared.Protocol;

/// <summary>
/// How a tensor appears inside a protocol message: its length and its floats, flat in the model's
/// parameter order. Which connection carries the message is the <see cref="ITensorTransport"/>'s business.
/// </summary>
/// <param name="Inline">The floats themselves.</param>
/// <param name="Pooled">
/// True when the array was rented from <see cref="TensorPool"/>; whoever uses it last calls
/// <see cref="Release"/>: the receiver once it has used the values, or the data plane once it has
/// written them to the socket (the receiver then holds its own copy). An array never released is
/// simply collected (e.g. one Akka.Remote serialized at a time nobody is told of).
/// </param>
/// <param name="Wire">How the numbers are written when the message is serialized (float32 unless the run opted for bfloat16).</param>
public sealed record TensorEnvelope(float[] Inline, bool Pooled = false, TensorWire Wire = TensorWire.Float32)
{
    private int _released;

    /// <summary>Number of floats.</summary>
    public int Length => Inline.Length;

    public static TensorEnvelope Of(float[] values) => new(values);

    /// <summary>The receiver is done with the values: a pooled array goes back for the next message (once).</summary>
    public void Release()
    {
        if (Pooled && Interlocked.Exchange(ref _released, 1) == 0) TensorPool.Return(Inline);
    }
}

/// <summary>
/// Where a worker connects for the tensor data plane, and the one-time token that proves the
/// connection belongs to the worker the coordinator welcomed (the Welcome travels over the
/// cluster's own, possibly TLS-protected, link).
/// </summary>
public sealed record DataPlaneTicket(string Host, int Port, string Token);
