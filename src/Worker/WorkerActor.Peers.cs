using System.Diagnostics;
using Akka.Actor;
using Distributed.Shared.Diagnostics;
using Distributed.Shared.Numerics;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.PeerProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Worker;

/// <summary>
/// The worker's part in the peer exchange (--exchange peers): it keeps a full replica of the run
/// (<see cref="ReplicaExchange"/>, which decides), applies each completed step before computing the
/// next, sends each piece's gradient cut into slices to their owners and a report to the
/// coordinator, sends the slice it reduces to every replica (and the coordinator word of it), and
/// sends its state when the coordinator asks (<see cref="SendState"/>).
/// </summary>
public sealed partial class WorkerActor
{
    private ReplicaExchange? _replica;
    /// <summary>Work that waits for reduced slices of the step before it (they travel on other connections).</summary>
    private ComputePieces? _held;
    private string[] _owners = [];
    private IActorRef[] _ownerRefs = [];
    private string? _selfPath;
    private int _replicaChecks;
    /// <summary>The coordinator's request for this replica's state, while the step it names waits for reduced slices.</summary>
    private SendState? _stateAsked;
    /// <summary>Peers this worker asked for a data-plane link (asked once per run).</summary>
    private readonly HashSet<string> _linked = [];

    private string SelfPath => _selfPath ??= Self.Path.ToSerializationFormatWithAddress(_cluster.SelfAddress);

    private void PeerMessages()
    {
        Receive<PieceSlice>(p => p.RunId == _runId && _replica is not null, TakePieceSlice);
        Receive<ReducedSlice>(r => r.RunId == _runId && _replica is not null, TakeReducedSlice);
        Receive<SendState>(q => q.RunId == _runId && _replica is not null && FromCoordinator, AnswerState);
        Receive<LinkRequest>(l => l.RunId == _runId && _replica is not null && !FromCoordinator, _ =>
        {
            if (_transport.Offer(Sender, Self) is { } ticket) Sender.Tell(new LinkOffer(_runId, ticket));
        });
        Receive<LinkOffer>(l => l.RunId == _runId && _replica is not null && !FromCoordinator, l => _transport.Connect(l.Ticket, Sender, Self));
        Receive<PieceSlice>(p => p.Values.Release());
        Receive<ReducedSlice>(r => r.Sum.Release());
    }

    private void StartReplica(Welcome welcome, Shared.Layers.Sequential<float> model)
    {
        _replica = null;
        _held = null;
        _stateAsked = null;
        (_owners, _ownerRefs) = ([], []);
        if (welcome.Optimizer is not { } o) return;
        var optimizer = OptimizerNames.Create(new TrainingOptions { Optimizer = o.Name, Momentum = o.Momentum, WeightDecay = o.WeightDecay });
        _replica = new ReplicaExchange(model, optimizer, welcome.Wire == TensorWire.BFloat16 ? RoundToBFloat16 : null);
    }

    // Rounded as the wire rounds (ProtocolCodec's bf16 path), through a pooled buffer: this runs for every slice.
    private static void RoundToBFloat16(float[] values)
    {
        var half = System.Buffers.ArrayPool<ushort>.Shared.Rent(values.Length);
        try
        {
            BFloat16.Encode(values, half);
            BFloat16.Decode(half.AsSpan(0, values.Length), values);
        }
        finally
        {
            System.Buffers.ArrayPool<ushort>.Shared.Return(half);
        }
    }

    private void ComputePeers(ComputePieces work, PeerWork peers)
    {
        _held = null;
        if (_replica is not { } replica)
        {
            _settings.Log($"worker {_settings.Name}: dropped peer-exchange work for step {work.Step}: the Welcome named no optimizer");
            return;
        }
        // Work resent (with the state) after this replica caught up by itself is under way already.
        if (replica.IsCollecting(work.Step, peers.Attempt)) return;
        if (!CatchUp(work, peers, replica) || !Matches(work, peers, replica)) return;
        int mine = Array.IndexOf(peers.Owners, SelfPath);
        if (mine < 0)
        {
            _settings.Log($"worker {_settings.Name}: dropped work for step {work.Step}: this worker is not among its slice owners");
            return;
        }
        if (work.Step > _latestStep) _stepsWorked++;
        _latestStep = work.Step;
        LogEpochIfEnded(work.Step);
        if (!peers.Owners.SequenceEqual(_owners)) NewOwners(peers.Owners);
        var layout = new SliceLayout(replica.Model.ParameterCount, peers.Owners.Length);
        ReductionPlan plan;
        try
        {
            plan = new ReductionPlan(peers.ShardSamples.Length, peers.Blocks);
        }
        catch (ArgumentOutOfRangeException e)
        {
            _settings.Log($"worker {_settings.Name}: dropped work for step {work.Step}: {e.Message}");
            return;
        }
        foreach (var done in replica.Begin(work.Step, peers.Attempt, layout, mine, peers.ShardSamples, plan)) SendReduced(done);
        ComputeEach(work, (shard, outcome, ms) =>
        {
            Scatter(work.Step, peers.Attempt, shard, outcome.Samples, layout, mine);
            _transport.Send(_coordinator!, new PieceResult(_runId, work.Step, shard.Shard, outcome.Samples, outcome.LossSum, outcome.Correct,
                new TensorEnvelope([]), ms, shard.Count, peers.Attempt), Self);
        });
    }

    /// <summary>
    /// Brings the replica to the step's weights: the run's state when sent, else the step before
    /// applied. False when that must wait for reduced slices (the work is held) or cannot happen
    /// (the coordinator is asked for the state).
    /// </summary>
    private bool CatchUp(ComputePieces work, PeerWork peers, ReplicaExchange replica)
    {
        if (peers.Optimizer is { } state)
        {
            if (work.Weights is null)
            {
                _settings.Log($"worker {_settings.Name}: dropped work for step {work.Step}: optimizer state without weights");
                return false;
            }
            try
            {
                replica.Load(work.Weights.Inline, state, work.WeightsVersion);
            }
            catch (Exception e) when (e is InvalidDataException or ArgumentException)
            {
                _settings.Log($"worker {_settings.Name}: dropped work for step {work.Step}: its state does not fit the model: {e.Message}");
                return false;
            }
            finally
            {
                work.Weights.Release();
            }
            return true;
        }
        var outcome = peers.AppliedStep < 0 ? (replica.Version == work.WeightsVersion ? ApplyOutcome.AlreadyThere : ApplyOutcome.NeedsState)
            : replica.Apply(peers.AppliedStep, peers.AppliedAttempt, peers.AppliedRate);
        if (outcome == ApplyOutcome.Waiting && replica.MissingSlices.All(k => k < _owners.Length && peers.Owners.Contains(_owners[k])))
        {
            _held = work;
            return false;
        }
        if (outcome is ApplyOutcome.Waiting or ApplyOutcome.NeedsState || replica.Version != work.WeightsVersion)
        {
            _settings.Log($"worker {_settings.Name}: step {work.Step} needs weights version {work.WeightsVersion}, the replica holds {replica.Version}; asking for the run's state");
            _coordinator!.Tell(new NeedState(_runId, work.Step));
            return false;
        }
        return true;
    }

    /// <summary>Once an epoch the coordinator sends its weights' hash: a replica that differs says so and asks for the state.</summary>
    private bool Matches(ComputePieces work, PeerWork peers, ReplicaExchange replica)
    {
        if (peers.WeightsSha256 is not { } expected) return true;
        string mine = WeightsHash.Sha256(replica.Model.FlattenValues());
        if (mine == expected)
        {
            _replicaChecks++;
            return true;
        }
        _settings.Log($"worker {_settings.Name}: its replica's weights for step {work.Step} differ from the coordinator's (sha256 {mine[..12]}… vs {expected[..12]}…); asking for the run's state");
        _coordinator!.Tell(new NeedState(_runId, work.Step));
        return false;
    }

    /// <summary>For the end-of-run line: how often the replica was checked against the coordinator's weights.</summary>
    private string ReplicaNote() => _replica is null ? "" : $"; replica checked equal to the coordinator's weights {_replicaChecks} time(s)";

    /// <summary>
    /// The piece's gradient sum, cut into the layout's slices and chunks: each chunk to its slice's
    /// owner, the chunks of this worker's own slice kept here. Peers' chunks go first, so that the
    /// wire starts while this worker adds its own.
    /// </summary>
    private void Scatter(long step, int attempt, PieceAssignment shard, int samples, SliceLayout layout, int mine)
    {
        var model = _replica!.Model;
        var gradient = TensorPool.Rent(model.ParameterCount);
        model.CopyGradientsTo(gradient);
        for (int k = 0; k < layout.Slices; k++)
            for (int j = 0; j < layout.Chunks(k) && k != mine; j++)
                _transport.Send(_ownerRefs[k], new PieceSlice(_runId, step, attempt, shard.Shard, shard.Count, samples, k, j,
                    new TensorEnvelope(Part(gradient, layout.Chunk(k, j)), Pooled: true, Wire: _wire)), Self);
        for (int j = 0; j < layout.Chunks(mine); j++)
        {
            var part = Part(gradient, layout.Chunk(mine, j));
            // As the wire would carry it, so that who owns the slice does not change the values.
            if (_wire == TensorWire.BFloat16) RoundToBFloat16(part);
            var (verdict, reduced) = _replica.OfferPiece(step, attempt, shard.Shard, shard.Count, samples, j, part, () => TensorPool.Return(part));
            if (verdict != ShardVerdict.Accepted) _settings.Log($"worker {_settings.Name}: its own piece {shard.Shard} of step {step} was refused: {verdict}");
            if (reduced is not null) SendReduced(reduced);
        }
        TensorPool.Return(gradient);
    }

    /// <summary>A pooled copy of one chunk of a gradient.</summary>
    private static float[] Part(float[] gradient, (int Start, int Length) chunk)
    {
        var part = TensorPool.Rent(chunk.Length);
        gradient.AsSpan(chunk.Start, chunk.Length).CopyTo(part);
        return part;
    }

    private void TakePieceSlice(PieceSlice p)
    {
        var (verdict, reduced) = _replica!.OfferPiece(p.Step, p.Attempt, p.First, p.Count, p.Samples, p.Chunk, p.Values.Inline, p.Values.Release);
        if (verdict is not (ShardVerdict.Accepted or ShardVerdict.WrongStep or ShardVerdict.Duplicate))
            _settings.Log($"worker {_settings.Name}: dropped chunk {p.Chunk} of slice {p.Slice} of piece {p.First} (step {p.Step}) from {Sender.Path.Address}: {verdict}");
        if (reduced is null) return;
        SendReduced(reduced);
        // Its own slice was the last one missing for work that waits.
        if (_held is { Peers: { } peers } held) ComputePeers(held, peers);
    }

    private void TakeReducedSlice(ReducedSlice r)
    {
        var verdict = _replica!.OfferReduced(r.Step, r.Attempt, r.Slice, r.Chunk, r.Sum.Inline, r.Sum.Release);
        if (verdict is not (SliceVerdict.Accepted or SliceVerdict.Stale or SliceVerdict.Duplicate))
            _settings.Log($"worker {_settings.Name}: dropped chunk {r.Chunk} of reduced slice {r.Slice} of step {r.Step} from {Sender.Path.Address}: {verdict}");
        if (_stateAsked is { } asked) AnswerState(asked);
        if (_held is { Peers: { } peers } held) ComputePeers(held, peers);
    }

    /// <summary>A reduced chunk of this worker's slice: to every other replica of the attempt; after the slice's last, the coordinator is told it went.</summary>
    private void SendReduced(ReplicaExchange.Reduced reduced)
    {
        var message = new ReducedSlice(_runId, reduced.Step, reduced.Attempt, reduced.Slice, reduced.Chunk, new TensorEnvelope(reduced.Sum, Wire: _wire));
        for (int k = 0; k < _ownerRefs.Length; k++)
            if (k != reduced.Slice) _transport.Send(_ownerRefs[k], message, Self);
        if (reduced.SliceDone) _transport.Send(_coordinator!, new SliceSent(_runId, reduced.Step, reduced.Attempt, reduced.Slice), Self);
    }

    /// <summary>
    /// The coordinator needs the run's weights: apply the step it names and send the replica's state
    /// (weights and optimizer memory); wait if that step's slices are still coming, say so if it cannot.
    /// </summary>
    private void AnswerState(SendState asked)
    {
        var replica = _replica!;
        _stateAsked = null;
        var outcome = replica.Apply(asked.Step, asked.Attempt, asked.Rate);
        if (outcome == ApplyOutcome.Waiting)
        {
            _stateAsked = asked;
            return;
        }
        var state = outcome == ApplyOutcome.NeedsState
            ? new ReplicaState(_runId, asked.Step + 1, new TensorEnvelope([]), null)
            : new ReplicaState(_runId, asked.Step + 1, new TensorEnvelope(replica.Model.FlattenValues()), replica.ExportOptimizer());
        if (state.Optimizer is null) _settings.Log($"worker {_settings.Name}: cannot send the state of step {asked.Step + 1}: its replica holds {replica.Version}");
        _transport.Send(_coordinator!, state, Self);
    }

    /// <summary>
    /// A new table: resolve the owners, and ask those this worker has no link to yet for one (of each
    /// pair, the worker with the smaller path asks, so that a pair shares one connection).
    /// </summary>
    private void NewOwners(string[] owners)
    {
        (_owners, _ownerRefs) = (owners, owners.Select(Resolve).ToArray());
        for (int k = 0; k < owners.Length; k++)
            if (string.CompareOrdinal(SelfPath, owners[k]) < 0 && _linked.Add(owners[k])) _ownerRefs[k].Tell(new LinkRequest(_runId));
    }

    /// <summary>The run is over for this worker: its links to peers close.</summary>
    private void ForgetPeers()
    {
        foreach (var peer in _ownerRefs) _transport.Forget(peer);
        _linked.Clear();
        (_owners, _ownerRefs) = ([], []);
    }

    private IActorRef Resolve(string path) => path == SelfPath ? Self : ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(path);

    private void Credit(int shards, double ms)
    {
        _shardsDone += shards;
        _computeMilliseconds += ms;
        _thisEpoch = (_thisEpoch.Epoch, _thisEpoch.Shards + shards, _thisEpoch.Milliseconds + ms);
        TrainingMetrics.Shard(ms / shards);
    }
}
