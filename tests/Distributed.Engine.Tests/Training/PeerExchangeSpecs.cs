using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Training;
using Command = Distributed.Shared.Training.RunEngine<string>.RunCommand;

namespace Distributed.Tests.Training;

/// <summary>
/// The peer exchange with no ActorSystem: the engine and one <see cref="ReplicaExchange"/> per
/// worker, the messages between them held in a queue and delivered in a seeded random order, as
/// the network might. Workers do here what WorkerActor does: catch up, compute, cut each piece's
/// gradient into slices for their owners, report, pass on the slice they reduce (telling the
/// coordinator it went), and send their state when the coordinator asks for it.
/// </summary>
public sealed class PeerExchangeSpecs
{
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 32, Shards = 4, Hidden = [16], TrainLimit = 256, TestLimit = 50 };
    private static readonly MnistData Data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 256, testLimit: 50);

    private readonly TrainingRun _run = new(Options, Data);
    private RunEngine<string> _engine = null!;
    private readonly List<Command.Compute> _sent = [];
    private readonly Dictionary<string, ReplicaExchange> _replicas = [];
    private readonly Dictionary<string, (Command.Compute Work, Command.PeerRound Round)> _work = [];
    private readonly List<(string To, Action Deliver)> _inFlight = [];
    private readonly HashSet<string> _dead = [];
    private readonly Random _network = new(7);
    /// <summary>Slices travel in chunks this long: several per slice of the spec's small model.</summary>
    private int _chunkFloats = 1024;
    private readonly List<Command.FetchState> _fetches = [];
    /// <summary>A request for a replica's state that waits for the step's last reduced slice.</summary>
    private readonly Dictionary<string, Command.FetchState> _stateAsked = [];
    /// <summary>Set by a spec to change what a worker answers to a request for its state.</summary>
    private Func<Command.FetchState, (float[] Weights, Shared.Optimizers.OptimizerState Optimizer), (float[], Shared.Optimizers.OptimizerState)>? _forge;

    private void Start(int minWorkers, int stateEvery = 0)
    {
        _engine = new RunEngine<string>(_run, new RunRules(minWorkers, MaxBadResults: 3, StepTimeout: TimeSpan.FromSeconds(5), WorkerTimeout: TimeSpan.FromSeconds(60), Peers: true,
            StateEvery: stateEvery));
        _engine.Start();
    }

    /// <summary>Delivers everything left: the run ends with the single process's weights.</summary>
    private void FinishWithTheSingleProcessWeights()
    {
        Deliver();
        Assert.Equal(RunPhase.Done, _engine.Phase);
        Assert.Equal(WeightsHash.Sha256(SingleProcess()), WeightsHash.Sha256(_run.Model.FlattenValues()));
    }

    /// <summary>The weights a single process reaches with the same options.</summary>
    private static float[] SingleProcess()
    {
        var twin = new TrainingRun(Options, Data);
        var step = new ShardedStep(twin.Model, Options.Shards, replicas: 1, Options.Seed);
        while (!twin.Finished)
        {
            var (loss, correct) = step.Run(Data.Train, twin.Order, twin.CurrentBatch.Start, twin.CurrentBatch.Count, twin.Step);
            twin.CompleteStep(loss, correct);
        }
        return twin.Model.FlattenValues();
    }

    private void Admit(params string[] workers)
    {
        foreach (var w in workers)
        {
            _replicas[w] = new ReplicaExchange(Options.Model(Data.Train.PixelsPerImage, Data.Train.Classes).Build<float>(seed: 99), OptimizerNames.Create(Options));
            Execute(_engine.Admit(w, $"node-{w}", w));
        }
    }

    private void Execute(IEnumerable<Command> commands)
    {
        foreach (var c in commands)
            if (c is Command.Compute { Round: { } round } work && !_dead.Contains(work.Worker))
            {
                _sent.Add(work);
                // The state travels as it was when the work was sent (the run may be further on when it arrives).
                (float[], Shared.Optimizers.OptimizerState)? state = round.WithState ? (_run.Model.FlattenValues(), _run.OptimizerState()) : null;
                Send(work.Worker, () => Compute(work, round, state));
            }
            else if (c is Command.FetchState fetch && !_dead.Contains(fetch.Worker))
            {
                _fetches.Add(fetch);
                Send(fetch.Worker, () => AnswerState(fetch));
            }
    }

    /// <summary>What WorkerActor does with SendState: apply the step named, then send weights and optimizer memory.</summary>
    private void AnswerState(Command.FetchState fetch)
    {
        var replica = _replicas[fetch.Worker];
        var outcome = replica.Apply(fetch.Step, fetch.Attempt, fetch.Rate);
        if (outcome == ApplyOutcome.Waiting)
        {
            _stateAsked[fetch.Worker] = fetch;
            return;
        }
        _stateAsked.Remove(fetch.Worker);
        Assert.NotEqual(ApplyOutcome.NeedsState, outcome);
        var state = (replica.Model.FlattenValues(), replica.ExportOptimizer());
        var (weights, optimizer) = _forge?.Invoke(fetch, state) ?? state;
        Send("coordinator", () => Execute(_engine.StateArrived(fetch.Worker, fetch.Step + 1, weights, optimizer)));
    }

    private void Send(string to, Action deliver) => _inFlight.Add((to, deliver));

    /// <summary>Delivers messages in random order until none is left (or <paramref name="until"/> holds).</summary>
    private void Deliver(Func<bool>? until = null)
    {
        while (_inFlight.Count > 0 && until?.Invoke() != true)
        {
            int i = _network.Next(_inFlight.Count);
            var (to, deliver) = _inFlight[i];
            _inFlight.RemoveAt(i);
            if (!_dead.Contains(to)) deliver();
        }
    }

    private void Compute(Command.Compute work, Command.PeerRound round, (float[] Weights, Shared.Optimizers.OptimizerState Optimizer)? state = null)
    {
        string me = work.Worker;
        var replica = _replicas[me];
        if (replica.IsCollecting(work.Step, round.Attempt)) return;
        _work[me] = (work, round);
        if (state is { } s) replica.Load(s.Weights, s.Optimizer, work.Step);
        else if (round.Applied is { } a)
        {
            var outcome = replica.Apply(a.Step, a.Attempt, a.Rate);
            if (outcome == ApplyOutcome.Waiting) return; // taken up again when the missing slice arrives
            Assert.NotEqual(ApplyOutcome.NeedsState, outcome);
        }
        Assert.Equal(work.Step, replica.Version);
        int mine = round.Owners.ToList().IndexOf(me);
        var layout = new SliceLayout(replica.Model.ParameterCount, round.Owners.Count, _chunkFloats);
        // Work handed out early is for the batch after the run's current one (until the run catches up).
        Func<int, int[]> samplesOf = work.Step == _run.Step + 1 ? _run.NextShardSamples : _run.ShardSamples;
        var sizes = Enumerable.Range(0, Options.Shards).Select(s => samplesOf(s).Length).ToArray();
        foreach (var r in replica.Begin(work.Step, round.Attempt, layout, mine, sizes, Options.Reduction())) Broadcast(me, round, r);
        var trainer = new ShardTrainer(replica.Model, Options.Seed);
        foreach (var (first, count) in work.Pieces)
        {
            var parts = Enumerable.Range(first, count).Select(samplesOf).ToArray();
            var segments = parts.Select(p => p.Length).Prepend(0).ToArray();
            for (int i = 1; i < segments.Length; i++) segments[i] += segments[i - 1];
            var outcomes = trainer.Run(Data.Train, parts.SelectMany(p => p).ToArray(), segments, work.Step);
            var gradient = new float[replica.Model.ParameterCount];
            replica.Model.CopyGradientsTo(gradient);
            int samples = outcomes.Sum(o => o.Samples);
            for (int k = 0; k < layout.Slices; k++)
                for (int j = 0; j < layout.Chunks(k); j++)
                {
                    var part = gradient.AsSpan(layout.Chunk(k, j).Start, layout.Chunk(k, j).Length).ToArray();
                    string owner = round.Owners[k];
                    long step = work.Step;
                    int chunk = j;
                    Send(owner, () =>
                    {
                        var (verdict, reduced) = _replicas[owner].OfferPiece(step, round.Attempt, first, count, samples, chunk, part);
                        if (reduced is null) return;
                        Broadcast(owner, round, reduced);
                        Resume(owner);
                    });
                }
            var report = new OfferedPiece(true, work.Step, first, count, samples, outcomes.Sum(o => o.LossSum), outcomes.Sum(o => o.Correct), [], 1.0, Attempt: round.Attempt);
            Send("coordinator", () => Execute(_engine.Offer(me, report).Commands));
        }
    }

    /// <summary>Work held for a slice goes on once the slice is in.</summary>
    private void Resume(string worker)
    {
        if (_stateAsked.TryGetValue(worker, out var asked)) AnswerState(asked);
        // Answering the state may have applied the step the held work waits for.
        if (_work.TryGetValue(worker, out var held) && _replicas[worker].Version is var v && (v == held.Work.Step - 1 || v == held.Work.Step)) Compute(held.Work, held.Round);
    }

    private void Broadcast(string owner, Command.PeerRound round, ReplicaExchange.Reduced reduced)
    {
        foreach (var peer in round.Owners.Where(p => p != owner))
            Send(peer, () =>
            {
                _replicas[peer].OfferReduced(reduced.Step, reduced.Attempt, reduced.Slice, reduced.Chunk, reduced.Sum.ToArray());
                Resume(peer);
            });
        if (reduced.SliceDone) Send("coordinator", () => Execute(_engine.SliceSent(owner, reduced.Step, reduced.Attempt, reduced.Slice).Commands));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 5)]
    [InlineData(2, 0, SliceLayout.DefaultChunkFloats)] // one chunk per slice
    [InlineData(3, 0, 16)]                              // hundreds
    public void Replicas_reducing_slices_in_any_arrival_order_should_reach_the_single_process_weights(int workers, int stateEvery, int chunkFloats = 1024)
    {
        _chunkFloats = chunkFloats;
        Start(workers, stateEvery);
        Admit(Enumerable.Range(1, workers).Select(i => $"w{i}").ToArray());
        Deliver();
        Assert.Equal(RunPhase.Done, _engine.Phase);
        var expected = SingleProcess();
        Assert.Equal(WeightsHash.Sha256(expected), WeightsHash.Sha256(_run.Model.FlattenValues()));
        // Each replica holds the weights of the last step it was told to apply: the step before the end,
        // or the end for the one whose state the coordinator took there.
        Assert.All(_replicas.Values, r => Assert.InRange(r.Version, _run.Step - 1, _run.Step));
        Assert.Contains(_replicas.Values, r => r.Version == _run.Step);
        // The coordinator took the replicas' state at each epoch's end (and checkpoint) and nowhere else.
        if (stateEvery == 0) Assert.Equal([7, 15], _fetches.Select(f => f.Step));
        // Within an epoch a step's work goes out early whenever its reports beat the step before's last slice.
        Assert.InRange(_sent.Count(c => c.Round!.Early), workers, 2 * (Options.TrainLimit!.Value / Options.BatchSize - 1) * workers);
    }

    [Fact]
    public void A_worker_lost_mid_step_should_cost_the_attempt_and_change_no_bits()
    {
        Start(3);
        Admit("w1", "w2", "w3");
        // Step 0 under way: some of its messages are delivered, then w2 dies with the rest of its part.
        int delivered = 0;
        Deliver(until: () => ++delivered > 6);
        Assert.Equal(0, _run.Step);
        _dead.Add("w2");
        var lost = _engine.Lose("w2", "stopped");
        Assert.Contains(lost, c => c is Command.Log l && l.Line.Contains("attempt 0 lost w2"));
        var again = lost.OfType<Command.Compute>().ToList();
        Assert.Equal(["w1", "w3"], again.Select(c => c.Worker));
        Assert.All(again, c => Assert.Equal(1, c.Round!.Attempt));
        Assert.All(again, c => Assert.Equal(["w1", "w3"], c.Round!.Owners));
        Execute(lost);
        FinishWithTheSingleProcessWeights();
    }

    [Fact]
    public void A_worker_joining_mid_run_should_get_the_state_and_a_slice_from_the_next_step()
    {
        Start(1);
        Admit("w1");
        Deliver(until: () => _run.Step >= 2);
        Admit("w2");
        Assert.DoesNotContain(_sent, c => c.Worker == "w2");
        Deliver(until: () => _run.Step >= 5);
        // From the first step not yet handed out: the next one, or the one after if its work went out early.
        var first = _sent.First(c => c.Worker == "w2");
        Assert.InRange(first.Step, 3, 4);
        Assert.True(first.Round!.WithState);
        Assert.Equal(["w1", "w2"], first.Round.Owners);
        Deliver();
        Assert.False(_sent.Last(c => c.Worker == "w2").Round!.WithState);
        Assert.Equal(WeightsHash.Sha256(SingleProcess()), WeightsHash.Sha256(_run.Model.FlattenValues()));
    }

    [Fact]
    public void A_replica_asking_for_the_state_for_early_work_should_get_it_when_that_step_begins()
    {
        Start(2);
        Admit("w1", "w2");
        Deliver(until: () => _sent.Any(c => c.Round!.Early));
        long early = _sent.First(c => c.Round!.Early).Step;
        Assert.Empty(_engine.StateRequested("w2", early));
        Deliver();
        var resent = _sent.Single(c => c.Worker == "w2" && c.Step == early && c.Round!.WithState);
        Assert.False(resent.Round!.Early);
        Assert.Equal(RunPhase.Done, _engine.Phase);
        Assert.Equal(WeightsHash.Sha256(SingleProcess()), WeightsHash.Sha256(_run.Model.FlattenValues()));
    }

    [Fact]
    public void A_word_of_a_slice_from_a_worker_that_does_not_own_it_should_be_dropped()
    {
        Start(2);
        Admit("w1", "w2");
        var (verdict, commands) = _engine.SliceSent("w2", 0, 0, slice: 0);
        Assert.Equal(SliceVerdict.Malformed, verdict);
        Assert.Contains(commands, c => c is Command.Log l && l.Line.Contains("does not own that slice"));
        var (stale, _) = _engine.SliceSent("w1", 0, attempt: 5, slice: 0);
        Assert.Equal(SliceVerdict.Stale, stale);
    }

    [Fact]
    public void The_coordinator_should_take_the_state_at_checkpoints_and_hold_the_replicas_weights_there()
    {
        Start(2, stateEvery: 3);
        Admit("w1", "w2");
        var held = new Dictionary<long, string>();
        Deliver(until: () =>
        {
            // Whenever the model holds the run's weights, they are a replica's.
            if (_run.Unapplied == 0 && _run.Step > 0) held[_run.Step] = WeightsHash.Sha256(_run.Model.FlattenValues());
            return _engine.Phase == RunPhase.Done;
        });
        held[_run.Step] = WeightsHash.Sha256(_run.Model.FlattenValues());
        Assert.Equal([2, 5, 7, 8, 11, 14, 15], _fetches.Select(f => f.Step));
        // Seen between deliveries: most fetched states (a step whose work went out early may complete
        // as the state arrives, so which ones depends on the order messages arrive in), and the end.
        Assert.InRange(held.Count, 4, 7);
        Assert.Contains(16L, held.Keys);
        var twin = SingleProcessHashes();
        Assert.All(held, h => Assert.Equal(twin[h.Key], h.Value));
    }

    /// <summary>The single process's weights' hash after every step.</summary>
    private static Dictionary<long, string> SingleProcessHashes()
    {
        var twin = new TrainingRun(Options, Data);
        var step = new ShardedStep(twin.Model, Options.Shards, replicas: 1, Options.Seed);
        var hashes = new Dictionary<long, string>();
        while (!twin.Finished)
        {
            var (loss, correct) = step.Run(Data.Train, twin.Order, twin.CurrentBatch.Start, twin.CurrentBatch.Count, twin.Step);
            twin.CompleteStep(loss, correct);
            hashes[twin.Step] = WeightsHash.Sha256(twin.Model.FlattenValues());
        }
        return hashes;
    }

    [Fact]
    public void Losing_every_replica_holding_the_steps_since_the_last_state_should_take_them_again_with_the_same_bits()
    {
        Start(1);
        Admit("w1");
        Deliver(until: () => _run.Step >= 5);
        Assert.Equal(5, _run.Unapplied);
        _dead.Add("w1");
        var lost = _engine.Lose("w1", "stopped");
        Assert.Contains(lost, c => c is Command.Log l && l.Line.Contains("going back to step 0"));
        Assert.Equal(0, _run.Step);
        Admit("w2");
        var first = _sent.First(c => c.Worker == "w2");
        Assert.Equal(0, first.Step);
        Assert.True(first.Round!.WithState);
        FinishWithTheSingleProcessWeights();
    }

    [Fact]
    public void A_replica_lost_while_its_state_is_asked_for_should_pass_the_request_to_another()
    {
        Start(2);
        Admit("w1", "w2");
        Deliver(until: () => _fetches.Count > 0);
        string asked = _fetches[0].Worker;
        _dead.Add(asked);
        var lost = _engine.Lose(asked, "stopped");
        var again = Assert.Single(lost.OfType<Command.FetchState>());
        Assert.NotEqual(asked, again.Worker);
        Assert.Equal(_fetches[0].Step, again.Step);
        // The step completes late because of the loss: the ledger's recovery line needs to hear it.
        Assert.Contains(lost, c => c is Command.Disturbed);
        Execute(lost);
        FinishWithTheSingleProcessWeights();
    }

    [Fact]
    public void A_state_that_is_not_the_steps_should_be_dropped_and_asked_of_another_replica()
    {
        Start(2);
        Admit("w1", "w2");
        // The first answer claims one optimizer step too many.
        _forge = (fetch, state) =>
        {
            _forge = null;
            return (state.Weights, state.Optimizer with { Steps = state.Optimizer.Steps + 1 });
        };
        Deliver(until: () => _fetches.Count > 1);
        Assert.NotEqual(_fetches[0].Worker, _fetches[1].Worker);
        Assert.Equal(_fetches[0].Step, _fetches[1].Step);
        Assert.Equal(1, _engine.BadResults(_fetches[0].Worker));
        FinishWithTheSingleProcessWeights();
    }

    [Fact]
    public void Chunks_should_cover_each_slice_in_order_at_multiples_of_16()
    {
        foreach (int n in new[] { 1, 2, 3, 4 })
        {
            var layout = new SliceLayout(235_146, n);
            for (int k = 0; k < n; k++)
            {
                var (start, length) = layout.Range(k);
                int next = start;
                for (int j = 0; j < layout.Chunks(k); j++)
                {
                    var chunk = layout.Chunk(k, j);
                    Assert.Equal(next, chunk.Start);
                    Assert.Equal(0, chunk.Start % 16);
                    Assert.InRange(chunk.Length, 1, SliceLayout.DefaultChunkFloats);
                    next += chunk.Length;
                }
                Assert.Equal(start + length, next);
                Assert.Equal((length + SliceLayout.DefaultChunkFloats - 1) / SliceLayout.DefaultChunkFloats, layout.Chunks(k));
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new SliceLayout(1000, 2, ChunkFloats: 100));
    }

    [Fact]
    public void A_reduced_gradient_should_be_complete_only_once_every_chunk_of_every_slice_is_in()
    {
        var layout = new SliceLayout(100, 2, ChunkFloats: 16); // slices [0, 48) and [48, 100): 3 and 4 chunks
        var reduced = new ReducedGradient(100);
        reduced.Begin(5, 1, layout);
        Assert.Equal(SliceVerdict.Accepted, reduced.Mark(5, 1, 1));
        Assert.Equal(SliceVerdict.Duplicate, reduced.Mark(5, 1, 1));
        Assert.Equal([0], reduced.Missing);
        Assert.Equal(SliceVerdict.Malformed, reduced.Offer(5, 1, 0, 3, new float[16]));
        Assert.Equal(SliceVerdict.Malformed, reduced.Offer(5, 1, 0, 0, new float[15]));
        for (int j = 0; j < 3; j++)
        {
            Assert.False(reduced.IsComplete);
            var values = Enumerable.Range(0, 16).Select(i => (float)(16 * j + i)).ToArray();
            Assert.Equal(SliceVerdict.Accepted, reduced.Offer(5, 1, 0, j, values));
        }
        Assert.Equal(SliceVerdict.Duplicate, reduced.Offer(5, 1, 0, 2, new float[16]));
        Assert.True(reduced.IsComplete);
        Assert.Equal(Enumerable.Range(0, 48).Select(i => (float)i), reduced.Sum[..48].ToArray());
    }

    [Fact]
    public void Slices_should_cover_the_parameters_in_order_at_multiples_of_16()
    {
        foreach (int n in new[] { 1, 2, 3, 4, 7 })
        {
            var layout = new SliceLayout(235_146, n);
            int next = 0;
            for (int k = 0; k < n; k++)
            {
                var (start, length) = layout.Range(k);
                Assert.Equal(next, start);
                Assert.Equal(0, start % 16);
                next = start + length;
            }
            Assert.Equal(235_146, next);
        }
    }
}
