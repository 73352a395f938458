using Distributed.Shared.Layers;
using Distributed.Shared.Optimizers;

namespace Distributed.Shared.Training;

/// <summary>How a replica answered the coordinator's "step s completed with attempt a at rate η".</summary>
public enum ApplyOutcome
{
    /// <summary>The optimizer stepped: the replica now holds step s+1's weights.</summary>
    Applied,

    /// <summary>It already held them.</summary>
    AlreadyThere,

    /// <summary>Reduced slices of that attempt are still on their way (<see cref="ReplicaExchange.MissingSlices"/>).</summary>
    Waiting,

    /// <summary>The replica cannot get there by itself (it missed that step): it needs the run's state.</summary>
    NeedsState,
}

/// <summary>
/// A worker's side of the peer exchange, with no Akka and no I/O. The worker is a full replica of
/// the run: its model and optimizer take every step of the run, on the same mean gradient
/// (g = sum / B, the same division), so every replica holds the same bits; the coordinator takes a
/// replica's state when it needs the weights (epoch ends, checkpoints). It also owns one slice of
/// the parameters for the step: every worker's piece gradients arrive cut into slices, and the
/// slices into chunks (<see cref="SliceLayout"/>); the owner adds each chunk of every piece with a
/// <see cref="StepCollector"/> in the run's fixed order (the per-element order a collector of whole
/// gradients would use, hence the same hash), and sends each reduced chunk to every replica as soon
/// as it is complete. A step is applied only when the coordinator says which attempt
/// of it completed (the next step's work carries that), so an attempt abandoned mid-way because a
/// worker died never reaches the weights.
/// </summary>
public sealed class ReplicaExchange
{
    /// <summary>
    /// A completed chunk of this replica's slice: the step's sum over it (rounded as the wire will
    /// carry it); <paramref name="SliceDone"/> when it was the slice's last.
    /// </summary>
    public sealed record Reduced(long Step, int Attempt, int Slice, int Chunk, float[] Sum, bool SliceDone);

    private sealed record EarlyPiece(long Step, int Attempt, int First, int Count, int Samples, int Chunk, float[] Values, Action? Release);

    private sealed record EarlySlice(long Step, int Attempt, int Slice, int Chunk, float[] Values, Action? Release);

    /// <summary>
    /// Messages for steps this replica has not begun yet are kept, up to this many slices' worth
    /// (this many times the chunks of a slice), so that a hostile or confused peer cannot fill memory.
    /// </summary>
    public const int MaxEarly = 256;

    private readonly IOptimizer _optimizer;
    private readonly Action<float[]>? _roundForWire;
    private readonly ReducedGradient _reduced;
    private readonly List<EarlyPiece> _earlyPieces = [];
    private readonly List<EarlySlice> _earlySlices = [];
    /// <summary>One per chunk of this replica's slice.</summary>
    private StepCollector[] _collectors = [];
    private int _chunksDone;
    private (long Step, int Attempt) _collecting = (-1, -1);
    private int _mine;
    private int _batchSamples;

    /// <param name="roundForWire">Rounds a reduced slice in place as the wire will (bfloat16), so the owner steps on the values its peers receive.</param>
    public ReplicaExchange(Sequential<float> model, IOptimizer optimizer, Action<float[]>? roundForWire = null)
    {
        Model = model;
        _optimizer = optimizer;
        _roundForWire = roundForWire;
        _reduced = new ReducedGradient(model.ParameterCount);
    }

    public Sequential<float> Model { get; }

    /// <summary>The step whose starting weights the model holds (−1: none yet).</summary>
    public long Version { get; private set; } = -1;

    public IEnumerable<int> MissingSlices => _reduced.Missing;

    /// <summary>True once <see cref="Begin"/> was called for this attempt: its work is under way (a second copy of it, e.g. resent with the state, changes nothing).</summary>
    public bool IsCollecting(long step, int attempt) => _collecting == (step, attempt);

    /// <summary>The optimizer's memory now (with the weights, what the coordinator takes when it needs the run's state).</summary>
    public OptimizerState ExportOptimizer() => _optimizer.ExportState();

    /// <summary>The run's state at the start of <paramref name="version"/>: weights and optimizer memory.</summary>
    public void Load(float[] weights, OptimizerState optimizer, long version)
    {
        Model.LoadValues(weights);
        _optimizer.ImportState(optimizer, Model.Parameters);
        Version = version;
    }

    /// <summary>Step <paramref name="step"/> completed with <paramref name="attempt"/>: step the optimizer at <paramref name="rate"/> if this replica holds that attempt's reduced gradient.</summary>
    public ApplyOutcome Apply(long step, int attempt, float rate)
    {
        if (Version == step + 1) return ApplyOutcome.AlreadyThere;
        if (Version != step || !_reduced.IsFor(step, attempt)) return ApplyOutcome.NeedsState;
        if (!_reduced.IsComplete) return ApplyOutcome.Waiting;
        // g = sum / B, then the optimizer: exactly what TrainingRun.CompleteStep does on the coordinator.
        GradientAccumulator.WriteMean(_reduced.Sum, _batchSamples, Model);
        _optimizer.Step(Model.Parameters, rate);
        Version = step + 1;
        return ApplyOutcome.Applied;
    }

    /// <summary>
    /// Starts collecting slice <paramref name="mine"/> of (<paramref name="step"/>, <paramref name="attempt"/>)
    /// and assembling its reduced gradient; what peers sent early is taken in now. Returns the slices
    /// this replica reduced (its own, if early pieces already complete it).
    /// </summary>
    public IReadOnlyList<Reduced> Begin(long step, int attempt, SliceLayout layout, int mine, IReadOnlyList<int> shardSamples, ReductionPlan plan)
    {
        if (layout.Parameters != Model.ParameterCount) throw new ArgumentException($"A layout of {layout.Parameters} parameters for a model of {Model.ParameterCount}.");
        _collecting = (step, attempt);
        _mine = mine;
        _batchSamples = shardSamples.Sum();
        var lengths = Enumerable.Range(0, layout.Chunks(mine)).Select(j => layout.Chunk(mine, j).Length).ToArray();
        bool reuse = _collectors.Length == lengths.Length && _collectors.Select(c => c.Length).SequenceEqual(lengths)
            && _collectors.All(c => ReferenceEquals(c.Plan, plan) || SamePlan(c.Plan, plan));
        if (reuse) foreach (var c in _collectors) c.Begin(step, shardSamples);
        else _collectors = lengths.Select(length => new StepCollector(step, shardSamples, length, plan)).ToArray();
        _chunksDone = 0;
        _reduced.Begin(step, attempt, layout);
        var done = new List<Reduced>();
        foreach (var early in Drain(_earlySlices, step, attempt)) OfferReduced(early.Step, early.Attempt, early.Slice, early.Chunk, early.Values, early.Release);
        foreach (var early in Drain(_earlyPieces, step, attempt))
            if (OfferPiece(early.Step, early.Attempt, early.First, early.Count, early.Samples, early.Chunk, early.Values, early.Release).Reduced is { } r) done.Add(r);
        return done;
    }

    private static bool SamePlan(ReductionPlan a, ReductionPlan b) => a.Shards == b.Shards && a.Blocks == b.Blocks;

    /// <summary>Takes out the early messages for (step, attempt), and drops those for earlier ones.</summary>
    private static List<T> Drain<T>(List<T> early, long step, int attempt) where T : class
    {
        var now = new List<T>();
        early.RemoveAll(e =>
        {
            var (s, a, release) = e switch
            {
                EarlyPiece p => (p.Step, p.Attempt, p.Release),
                EarlySlice x => (x.Step, x.Attempt, x.Release),
                _ => throw new InvalidOperationException(),
            };
            int order = (s, a).CompareTo((step, attempt));
            if (order == 0) now.Add(e);
            else if (order < 0) release?.Invoke();
            return order <= 0;
        });
        return now;
    }

    /// <summary>
    /// Chunk <paramref name="chunk"/> of the part of a piece's gradient sum that falls in this
    /// replica's slice (from a peer, or from itself). When it completes the chunk, the reduced chunk
    /// is returned for sending to every replica.
    /// </summary>
    public (ShardVerdict Verdict, Reduced? Reduced) OfferPiece(long step, int attempt, int first, int count, int samples, int chunk, float[] values, Action? release = null)
    {
        int order = (step, attempt).CompareTo(_collecting);
        if (order > 0) return (Keep(_earlyPieces, new EarlyPiece(step, attempt, first, count, samples, chunk, values, release), release), null);
        if (order < 0 || _collectors.Length == 0)
        {
            release?.Invoke();
            return (ShardVerdict.WrongStep, null);
        }
        if ((uint)chunk >= (uint)_collectors.Length)
        {
            release?.Invoke();
            return (ShardVerdict.Malformed, null);
        }
        // The owner adds; loss and accuracy are the coordinator's business (it gets them with the piece's report).
        var collector = _collectors[chunk];
        var verdict = collector.Offer(step, first, count, samples, 0, 0, values, release);
        if (verdict != ShardVerdict.Accepted)
        {
            release?.Invoke();
            return (verdict, null);
        }
        if (!collector.IsComplete) return (verdict, null);
        var sum = collector.Sum.ToArray();
        _roundForWire?.Invoke(sum);
        _reduced.Offer(step, attempt, _mine, chunk, sum);
        return (verdict, new Reduced(step, attempt, _mine, chunk, sum, SliceDone: ++_chunksDone == _collectors.Length));
    }

    /// <summary>A reduced chunk of another replica's slice, from its owner.</summary>
    public SliceVerdict OfferReduced(long step, int attempt, int slice, int chunk, float[] values, Action? release = null)
    {
        if ((step, attempt).CompareTo(_collecting) > 0)
        {
            Keep(_earlySlices, new EarlySlice(step, attempt, slice, chunk, values, release), release);
            return SliceVerdict.Accepted;
        }
        var verdict = slice == _mine && _reduced.IsFor(step, attempt) ? SliceVerdict.Malformed : _reduced.Offer(step, attempt, slice, chunk, values);
        release?.Invoke();
        return verdict;
    }

    private ShardVerdict Keep<T>(List<T> early, T item, Action? release)
    {
        if (early.Count >= MaxEarly * Math.Max(1, _collectors.Length))
        {
            release?.Invoke();
            return ShardVerdict.WrongStep;
        }
        early.Add(item);
        return ShardVerdict.Accepted;
    }
}
