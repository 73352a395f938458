namespace Distributed.Shared.Training;

/// <summary>What became of a reduced slice offered to a <see cref="ReducedGradient"/>.</summary>
public enum SliceVerdict
{
    Accepted,

    /// <summary>For another step or attempt: dropped.</summary>
    Stale,

    /// <summary>Already held: dropped.</summary>
    Duplicate,

    /// <summary>A slice number or length the layout does not have: dropped.</summary>
    Malformed,

    /// <summary>Holds NaN or infinity: dropped.</summary>
    NotFinite,
}

/// <summary>
/// One step's reduced gradient sum, assembled from the chunks of the slices their owners reduced
/// (each the sum of every piece's part in the run's fixed order, so the assembled vector has the
/// bits one collector of whole gradients would have had). Held by every worker's replica; the
/// coordinator only counts which slices were sent (<see cref="Mark"/>). Pure.
/// </summary>
public sealed class ReducedGradient(int parameters)
{
    // Allocated by the first chunk with values: the coordinator only marks slices and never needs it.
    private float[]? _sum;
    /// <summary>Per chunk of the layout, slice by slice; <see cref="_firstChunk"/>[k] is slice k's first.</summary>
    private bool[] _have = [];
    private int[] _firstChunk = [0];
    private int[] _chunksHeld = [];
    private int _held;

    public long Step { get; private set; } = -1;

    public int Attempt { get; private set; } = -1;

    public SliceLayout Layout { get; private set; } = new(parameters, 1);

    public bool IsComplete => _held == _have.Length && _have.Length > 0;

    /// <summary>The assembled sum (complete once <see cref="IsComplete"/>).</summary>
    public ReadOnlySpan<float> Sum => _sum;

    /// <summary>Slices with a chunk still missing.</summary>
    public IEnumerable<int> Missing => Enumerable.Range(0, Layout.Slices).Where(k => !Has(k));

    /// <summary>Whether every chunk of slice <paramref name="slice"/> is in.</summary>
    public bool Has(int slice) => slice >= 0 && slice < _chunksHeld.Length && _chunksHeld[slice] == Layout.Chunks(slice);

    public void Begin(long step, int attempt, SliceLayout layout)
    {
        if (layout.Parameters != parameters) throw new ArgumentException($"A layout of {layout.Parameters} parameters for a gradient of {parameters}.");
        (Step, Attempt, Layout) = (step, attempt, layout);
        _firstChunk = new int[layout.Slices + 1];
        for (int k = 0; k < layout.Slices; k++) _firstChunk[k + 1] = _firstChunk[k] + layout.Chunks(k);
        _have = new bool[_firstChunk[^1]];
        _chunksHeld = new int[layout.Slices];
        _held = 0;
    }

    public bool IsFor(long step, int attempt) => Step == step && Attempt == attempt;

    /// <summary>The owner's word that slice <paramref name="slice"/> was reduced and sent (the coordinator counts slices without holding them).</summary>
    public SliceVerdict Mark(long step, int attempt, int slice)
    {
        if (!IsFor(step, attempt)) return SliceVerdict.Stale;
        if (slice < 0 || slice >= Layout.Slices) return SliceVerdict.Malformed;
        if (_chunksHeld[slice] > 0) return SliceVerdict.Duplicate;
        for (int j = 0; j < Layout.Chunks(slice); j++) Take(slice, j);
        return SliceVerdict.Accepted;
    }

    /// <summary>Chunk <paramref name="chunk"/> of slice <paramref name="slice"/>, reduced by its owner.</summary>
    public SliceVerdict Offer(long step, int attempt, int slice, int chunk, ReadOnlySpan<float> values)
    {
        if (!IsFor(step, attempt)) return SliceVerdict.Stale;
        if (slice < 0 || slice >= Layout.Slices || chunk < 0 || chunk >= Layout.Chunks(slice) || values.Length != Layout.Chunk(slice, chunk).Length) return SliceVerdict.Malformed;
        if (_have[_firstChunk[slice] + chunk]) return SliceVerdict.Duplicate;
        foreach (float v in values)
            if (!float.IsFinite(v)) return SliceVerdict.NotFinite;
        values.CopyTo((_sum ??= new float[parameters]).AsSpan(Layout.Chunk(slice, chunk).Start));
        Take(slice, chunk);
        return SliceVerdict.Accepted;
    }

    private void Take(int slice, int chunk)
    {
        _have[_firstChunk[slice] + chunk] = true;
        _chunksHeld[slice]++;
        _held++;
    }
}
