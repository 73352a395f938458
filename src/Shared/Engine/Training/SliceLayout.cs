namespace Distributed.Shared.Training;

/// <summary>
/// How the peer exchange cuts a flat parameter vector among the N workers of a step: slice k covers
/// [Start(k), Start(k+1)), boundaries at multiples of 16 floats (whole cache lines and vector
/// lanes), the last slice taking the rest. Every node derives the same cut from (parameters, N).
/// </summary>
public sealed record SliceLayout(int Parameters, int Slices)
{
    public int Slices { get; } = Slices >= 1 ? Slices : throw new ArgumentOutOfRangeException(nameof(Slices), $"{Slices} slices");

    // Start(k) = ⌊P·k/N⌋ rounded down to a multiple of 16; Start(N) = P.
    public int Start(int slice) => slice >= Slices ? Parameters : (int)((long)Parameters * slice / Slices) & ~15;

    public (int Start, int Length) Range(int slice)
    {
        if ((uint)slice >= (uint)Slices) throw new ArgumentOutOfRangeException(nameof(slice), $"slice {slice} of {Slices}");
        int start = Start(slice);
        return (start, Start(slice + 1) - start);
    }
}
