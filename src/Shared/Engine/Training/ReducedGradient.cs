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
/// One step's reduced gradient sum, assembled from the slices their owners reduced (each slice the
/// sum of every piece's part in the run's fixed order, so the assembled vector has the bits one
/// collector of whole gradients would have had). Held by every worker's replica; the coordinator
/// only counts which slices were sent (<see cref="Mark"/>). Pure.
/// </summary>
public sealed class ReducedGradient(int parameters)
{
    // Allocated by the first slice with values: the coordinator only marks slices and never needs it.
    private float[]? _sum;
    private bool[] _have = [];
    private int _held;

    public long Step { get; private set; } = -1;

    public int Attempt { get; private set; } = -1;

    public SliceLayout Layout { get; private set; } = new(parameters, 1);

    public bool IsComplete => _held == _have.Length && _have.Length > 0;

    /// <summary>The assembled sum (complete once <see cref="IsComplete"/>).</summary>
    public ReadOnlySpan<float> Sum => _sum;

    public IEnumerable<int> Missing => Enumerable.Range(0, _have.Length).Where(k => !_have[k]);

    public bool Has(int slice) => slice >= 0 && slice < _have.Length && _have[slice];

    public void Begin(long step, int attempt, SliceLayout layout)
    {
        if (layout.Parameters != parameters) throw new ArgumentException($"A layout of {layout.Parameters} parameters for a gradient of {parameters}.");
        (Step, Attempt, Layout) = (step, attempt, layout);
        _have = new bool[layout.Slices];
        _held = 0;
    }

    public bool IsFor(long step, int attempt) => Step == step && Attempt == attempt;

    /// <summary>The owner's word that slice <paramref name="slice"/> was reduced and sent (the coordinator counts slices without holding them).</summary>
    public SliceVerdict Mark(long step, int attempt, int slice)
    {
        if (!IsFor(step, attempt)) return SliceVerdict.Stale;
        if (slice < 0 || slice >= _have.Length) return SliceVerdict.Malformed;
        if (_have[slice]) return SliceVerdict.Duplicate;
        _have[slice] = true;
        _held++;
        return SliceVerdict.Accepted;
    }

    public SliceVerdict Offer(long step, int attempt, int slice, ReadOnlySpan<float> values)
    {
        if (!IsFor(step, attempt)) return SliceVerdict.Stale;
        if (slice < 0 || slice >= _have.Length || values.Length != Layout.Range(slice).Length) return SliceVerdict.Malformed;
        if (_have[slice]) return SliceVerdict.Duplicate;
        foreach (float v in values)
            if (!float.IsFinite(v)) return SliceVerdict.NotFinite;
        values.CopyTo((_sum ??= new float[parameters]).AsSpan(Layout.Range(slice).Start));
        _have[slice] = true;
        _held++;
        return SliceVerdict.Accepted;
    }
}
