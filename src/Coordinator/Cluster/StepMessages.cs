using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// What the coordinator sends, built from the run: the Welcome (model description, data check,
/// data-plane ticket, and with TLS the proof of a coordinator certificate) and each step's pieces
/// with the step's weights. How the messages travel is the transport's business.
/// </summary>
/// <param name="peers">The peer exchange: workers are replicas; weights (with the optimizer's state) go only to a worker that is not a current replica.</param>
/// <param name="term">The coordinator's term, carried by every Welcome (see <see cref="Welcome.Term"/>).</param>
public sealed class StepMessages(TrainingRun run, string runId, TensorWire wire, CoordinatorIdentity? identity, string selfAddress, bool peers = false, long term = 1)
{
    private readonly float[]?[] _weightBuffers = new float[]?[2];
    private TensorEnvelope? _weights;
    private string? _hash;

    public Welcome Welcome(DataPlaneTicket? ticket, RegisterWorker? registration) => new(runId,
        new ModelSpec(run.Description, run.Options.Seed),
        new DataSpec(run.Data.Train.Count, run.Data.Train.Fingerprint(run.Data.Train.Count)), run.BatchesPerEpoch, ticket, wire,
        identity?.Prove(new WelcomeClaim(registration?.Challenge ?? "", selfAddress, runId, registration?.Name ?? "", ticket)),
        peers ? new ReplicaOptimizer(run.Options.Optimizer, run.Options.Momentum, run.Options.WeightDecay) : null, term);

    /// <summary>A step begins: its weights are copied once (when they can be sent), into one of two buffers used in turn, so a step's weights stay intact while its messages may still be on their way out.</summary>
    public void StepStarted()
    {
        // Under the peer exchange a model behind the run is never sent (the engine takes the replicas'
        // state first), and an epoch's first step, which carries the hash, never starts behind.
        if (peers && run.Unapplied > 0)
        {
            (_weights, _hash) = (null, null);
            return;
        }
        var buffer = _weightBuffers[run.Step % 2] ??= new float[run.Model.ParameterCount];
        run.Model.CopyValuesTo(buffer);
        _weights = new TensorEnvelope(buffer, Wire: wire);
        // Replicas check theirs against it once an epoch (a hash of 0.94 MB costs about 1 ms).
        _hash = peers && run.Batch == 0 ? WeightsHash.Sha256(buffer) : null;
    }

    /// <summary>Pieces to compute with this step's weights.</summary>
    public ComputePieces Compute(long step, IReadOnlyList<(int First, int Count)> pieces) =>
        new(runId, step, step, _weights, pieces.Select(Assignment).ToArray());

    /// <summary>
    /// Pieces of one attempt of a step under the peer exchange, for a worker whose owners' paths are
    /// <paramref name="owners"/>; with <paramref name="withState"/>, the step's weights and the optimizer's state.
    /// </summary>
    /// <param name="early">Work for the step after the current one (its samples are the next batch's; no state, no hash).</param>
    public ComputePieces Compute(long step, IReadOnlyList<(int First, int Count)> pieces, int attempt, string[] owners, bool withState,
        (long Step, int Attempt, float Rate)? applied, bool early = false)
    {
        // By the step, not by the flag: the host carries out the engine's commands after the event, and
        // by then the run may have moved to the step the early work was for (several results taken in at once).
        Func<int, int[]> samples = step == run.Step ? run.ShardSamples
            : step == run.Step + 1 ? run.NextShardSamples
            : throw new InvalidOperationException($"Work for step {step} while the run is at step {run.Step}.");
        var sizes = Enumerable.Range(0, run.Options.Shards).Select(s => samples(s).Length).ToArray();
        var work = new PeerWork(attempt, owners, sizes, run.Options.Blocks, applied?.Step ?? -1, applied?.Attempt ?? 0, applied?.Rate ?? 0,
            withState && !early ? run.OptimizerState() : null, early ? null : _hash);
        // The state travels exact whatever the wire: a replica must hold the coordinator's very bits.
        return new(runId, step, step, withState && !early ? new TensorEnvelope(_weights!.Inline) : null, pieces.Select(p => Assignment(p, samples)).ToArray(), work);
    }

    /// <summary>A piece as the wire carries it: its samples, and for several shards where each one starts.</summary>
    private PieceAssignment Assignment((int First, int Count) p) => Assignment(p, run.ShardSamples);

    private static PieceAssignment Assignment((int First, int Count) p, Func<int, int[]> samples)
    {
        if (p.Count == 1) return new PieceAssignment(p.First, samples(p.First));
        var parts = Enumerable.Range(p.First, p.Count).Select(samples).ToArray();
        var segments = new int[p.Count + 1];
        for (int i = 0; i < p.Count; i++) segments[i + 1] = segments[i] + parts[i].Length;
        return new PieceAssignment(p.First, parts.SelectMany(x => x).ToArray(), segments);
    }
}
