namespace Distributed.Shared.Training;

/// <summary>
/// How the peer exchange cuts a flat parameter vector among the N workers of a step: slice k covers
/// [Start(k), Start(k+1)), boundaries at multiples of 16 floats (whole cache lines and vector
/// lanes), the last slice taking the rest. Every node derives the same cut from (parameters, N).
/// Each slice travels in chunks of <paramref name="ChunkFloats"/> (the last one shorter), so that an
/// owner adds and passes on the first chunk while the next is on the wire, and a replica takes in a
/// reduced chunk while the next is on the wire: sending, reducing and receiving overlap. Chunks
/// change no bits: every element is added in the same order whatever the cut.
/// </summary>
public sealed record SliceLayout(int Parameters, int Slices, int ChunkFloats = SliceLayout.DefaultChunkFloats)
{
    /// <summary>128 KB of float32: a few chunks per slice of the MNIST MLP at 2–4 workers, each one large next to a message's fixed cost.</summary>
    public const int DefaultChunkFloats = 32 * 1024;

    public int Slices { get; } = Slices >= 1 ? Slices : throw new ArgumentOutOfRangeException(nameof(Slices), $"{Slices} slices");

    public int ChunkFloats { get; } = ChunkFloats >= 16 && ChunkFloats % 16 == 0 ? ChunkFloats
        : throw new ArgumentOutOfRangeException(nameof(ChunkFloats), $"chunks of {ChunkFloats} floats (a positive multiple of 16)");

    // Start(k) = ⌊P·k/N⌋ rounded down to a multiple of 16; Start(N) = P.
    public int Start(int slice) => slice >= Slices ? Parameters : (int)((long)Parameters * slice / Slices) & ~15;

    public (int Start, int Length) Range(int slice)
    {
        if ((uint)slice >= (uint)Slices) throw new ArgumentOutOfRangeException(nameof(slice), $"slice {slice} of {Slices}");
        int start = Start(slice);
        return (start, Start(slice + 1) - start);
    }

    /// <summary>How many chunks slice <paramref name="slice"/> travels in (one, for an empty slice).</summary>
    public int Chunks(int slice) => Math.Max(1, (Range(slice).Length + ChunkFloats - 1) / ChunkFloats);

    /// <summary>Chunk <paramref name="chunk"/> of a slice, in the whole vector's indices.</summary>
    public (int Start, int Length) Chunk(int slice, int chunk)
    {
        var (start, length) = Range(slice);
        if ((uint)chunk >= (uint)Chunks(slice)) throw new ArgumentOutOfRangeException(nameof(chunk), $"chunk {chunk} of slice {slice} ({Chunks(slice)} chunks)");
        int offset = chunk * ChunkFloats;
        return (start + offset, Math.Min(ChunkFloats, length - offset));
    }
}
