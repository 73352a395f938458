using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Diagnostics;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Worker;

/// <summary>
/// A worker: finds the coordinator through cluster membership, registers, and computes the shards
/// it is assigned with the pure <see cref="ShardTrainer"/>, replying one <see cref="PieceResult"/>
/// per shard. Behaviours: Searching → Registering → Ready (→ Finished).
/// </summary>
public sealed partial class WorkerActor : ReceiveActor, IWithTimers
{
    /// <summary>How the worker is set up.</summary>
    /// <param name="Name">Name in the coordinator's logs and metrics.</param>
    /// <param name="Data">This node's own copy of the training data.</param>
    /// <param name="Threads">Threads for its matrix products (1 when several workers share the machine's cores).</param>
    /// <param name="Log">Where node events are written.</param>
    /// <param name="Transport">How tensors travel (null: over Akka.Remote).</param>
    /// <param name="OnFinished">Called when the coordinator announces the end of the run.</param>
    /// <param name="OnStopped">Called when the coordinator stops the run before its end (interrupted or failed).</param>
    /// <param name="Idle">In a run but sent no work this long: register again (after a network blip the coordinator may have dropped this worker).</param>
    /// <param name="Orphaned">No word from any coordinator this long: give up (<paramref name="OnOrphaned"/>) rather than idle forever.</param>
    /// <param name="Verifier">With TLS: a Welcome counts only when signed by a coordinator certificate of the cluster's CA.</param>
    /// <param name="NotJoinedHint">Logged once if no seed node has let this node in after <paramref name="NotJoinedAfter"/> (default 15 s): the likely causes.</param>
    public sealed record Settings(string Name, ImageSet Data, int Threads, Action<string> Log, ITensorTransport? Transport = null, Action<RunFinished>? OnFinished = null,
        Action<RunStopped>? OnStopped = null, TimeSpan? Idle = null, TimeSpan? Orphaned = null, Action<string>? OnOrphaned = null,
        CoordinatorVerifier? Verifier = null, string? NotJoinedHint = null, TimeSpan? NotJoinedAfter = null)
    {
        public TimeSpan NotJoinedHintAfter => NotJoinedAfter ?? TimeSpan.FromSeconds(15);

        public TimeSpan IdleAfter => Idle ?? TimeSpan.FromSeconds(5);

        public TimeSpan OrphanedAfter => Orphaned ?? TimeSpan.FromSeconds(120);
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
        private Tick() { }
    }

    private sealed class RetryRegistration
    {
        public static readonly RetryRegistration Instance = new();
        private RetryRegistration() { }
    }

    /// <summary>While the coordinator is unreachable: ask the other coordinators (a standby that took over answers).</summary>
    private sealed class AskOthers
    {
        public static readonly AskOthers Instance = new();
        private AskOthers() { }
    }

    /// <summary>How often a worker whose coordinator went asks the other coordinator-role members in.</summary>
    private static readonly TimeSpan AskOthersEvery = TimeSpan.FromMilliseconds(250);

    private readonly Settings _settings;
    private readonly ITensorTransport _transport;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private Address? _coordinatorAddress;
    private IActorRef? _coordinator;
    private string _runId = "";
    /// <summary>The highest coordinator term this worker followed: a Welcome of a lower one (a stale coordinator) is refused.</summary>
    private long _term;
    private ShardTrainer? _trainer;
    private long _weightsVersion = -1;
    private long _latestStep = -1;
    private int _shardsDone;
    private int _stepsWorked;
    private (long Sent, long Received) _bytesAtJoin;
    private double _computeMilliseconds;
    private int _stepsPerEpoch;
    private TensorWire _wire;
    private (int Epoch, int Shards, double Milliseconds) _thisEpoch;
    private readonly Stopwatch _sinceWork = Stopwatch.StartNew();
    private readonly Stopwatch _sinceContact = Stopwatch.StartNew();
    private bool _orphaned;
    private bool _hinted;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    // A security nonce, not a modelling choice: it must be unpredictable, so it takes no seed.
    private readonly string _challenge = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
    /// <summary>Members that claimed the coordinator role without a coordinator certificate's proof.</summary>
    private readonly HashSet<Address> _refused = [];

    public WorkerActor(Settings settings)
    {
        _settings = settings;
        _transport = settings.Transport ?? AkkaRemoteTransport.Instance;
        Searching();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Settings settings) => Akka.Actor.Props.Create(() => new WorkerActor(settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        var every = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 50,
            new[] { _settings.IdleAfter.Ticks, _settings.OrphanedAfter.Ticks, _settings.NotJoinedHintAfter.Ticks }.Min() / 4));
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, every);
    }

    /// <summary>
    /// Idle in a run: register again (the coordinator answers a worker it still counts with a plain
    /// Welcome, and re-admits one it dropped). No coordinator for too long: give up, saying why.
    /// </summary>
    private void OnTick(bool inRun)
    {
        if (_sinceContact.Elapsed >= _settings.OrphanedAfter && !_orphaned)
        {
            _orphaned = true;
            string why = $"no work or welcome from a coordinator for {_settings.OrphanedAfter.TotalSeconds:F0} s";
            _settings.Log($"worker {_settings.Name}: {why}; giving up");
            _settings.OnOrphaned?.Invoke(why);
            return;
        }
        // Akka retries a refused seed forever with low-level warnings: say once what is likely wrong.
        if (!_hinted && _settings.NotJoinedHint is { } hint && _sinceStart.Elapsed >= _settings.NotJoinedHintAfter && _cluster.State.Members.IsEmpty)
        {
            _hinted = true;
            _settings.Log($"worker {_settings.Name}: not let into the cluster after {_settings.NotJoinedHintAfter.TotalSeconds:F0} s: {hint}");
        }
        if (inRun && _coordinator is not null && _sinceWork.Elapsed >= _settings.IdleAfter)
        {
            _sinceWork.Restart();
            _coordinator.Tell(new RegisterWorker(_settings.Name, _settings.Threads, _challenge));
        }
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        if (_coordinator is not null) _transport.Forget(_coordinator);
    }

    private void Searching()
    {
        Receive<ClusterEvent.MemberUp>(up => up.Member.HasRole(Roles.Coordinator) && !_refused.Contains(up.Member.Address), up => RegisterWith(up.Member.Address));
        // A coordinator may also invite a worker it already knows (and tests drive workers this way).
        Receive<Welcome>(Join);
        Receive<AskOthers>(_ => RegisterWithOthers(except: null));
        Receive<Tick>(_ => OnTick(inRun: false));
        ReceiveAny(Unhandled);
    }

    private void Registering()
    {
        Receive<RetryRegistration>(_ => Register());
        Receive<Welcome>(Join);
        Receive<Rejected>(r =>
        {
            _settings.Log($"worker {_settings.Name}: registration refused: {r.Reason}");
            Timers.Cancel(RetryRegistration.Instance);
        });
        Receive<ClusterEvent.MemberRemoved>(m => m.Member.Address == _coordinatorAddress, _ => LoseCoordinator("left the cluster"));
        Receive<AskOthers>(_ => RegisterWithOthers(except: null));
        Receive<Tick>(_ => OnTick(inRun: false));
        ReceiveAny(Unhandled);
    }

    private void Ready()
    {
        // Work and verdicts count only from the coordinator this worker joined.
        Receive<ComputePieces>(_ => FromCoordinator, Compute);
        PeerMessages();
        // Answer to an idle re-registration: still in (nothing to do), or re-admitted with a new data-plane ticket.
        Receive<Welcome>(w => w.RunId == _runId && w.DataPlane is null, _ => _sinceContact.Restart());
        Receive<Welcome>(w =>
        {
            if (!FromCoordinator && w.Term <= _term)
            {
                Fence(w);
                return;
            }
            _settings.Log(FromCoordinator ? $"worker {_settings.Name}: re-admitted to run {w.RunId}"
                : $"worker {_settings.Name}: following the coordinator of term {w.Term} at {Sender.Path.Address} (was term {_term} at {_coordinatorAddress})");
            Join(w);
        });
        // The coordinator may be gone (a standby then takes over) or only cut off for a while: keep
        // its work coming if it returns, and meanwhile ask the other coordinators in.
        Receive<ClusterEvent.UnreachableMember>(u => u.Member.Address == _coordinatorAddress, u =>
        {
            _settings.Log($"worker {_settings.Name}: coordinator at {u.Member.Address} is unreachable; asking the other coordinators");
            Timers.StartPeriodicTimer(AskOthers.Instance, AskOthers.Instance, TimeSpan.Zero, AskOthersEvery);
        });
        Receive<ClusterEvent.ReachableMember>(r => r.Member.Address == _coordinatorAddress, _ => Timers.Cancel(AskOthers.Instance));
        Receive<AskOthers>(_ => RegisterWithOthers(except: _coordinatorAddress));
        Receive<Rejected>(_ => FromCoordinator, r =>
        {
            _settings.Log($"worker {_settings.Name}: the coordinator no longer takes this worker: {r.Reason}");
            Become(Finished);
            _settings.OnStopped?.Invoke(new RunStopped(_runId, r.Reason));
        });
        Receive<Tick>(_ => OnTick(inRun: true));
        Receive<RunFinished>(f => f.RunId == _runId && FromCoordinator, f =>
        {
            LogEpoch();
            _settings.Log($"worker {_settings.Name}: run {f.RunId} finished, final_weights_sha256 {f.FinalWeightsSha256}; " +
                $"{_shardsDone} shards computed, {(_shardsDone == 0 ? 0 : _computeMilliseconds / _shardsDone):F2} ms each; " +
                $"{Traffic()}{ReplicaNote()}; peak resident memory {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MB (this process)");
            Context.Unwatch(_coordinator);
            _transport.Forget(_coordinator!);
            ForgetPeers();
            Become(Finished);
            _settings.OnFinished?.Invoke(f);
        });
        Receive<RunStopped>(r => r.RunId == _runId && FromCoordinator, r =>
        {
            LogEpoch();
            _settings.Log($"worker {_settings.Name}: the coordinator stopped run {r.RunId}: {r.Reason}");
            Context.Unwatch(_coordinator);
            _transport.Forget(_coordinator!);
            ForgetPeers();
            Become(Finished);
            _settings.OnStopped?.Invoke(r);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_coordinator), _ => LoseCoordinator("stopped"));
        Receive<ClusterEvent.MemberRemoved>(m => m.Member.Address == _coordinatorAddress, _ => LoseCoordinator("left the cluster"));
        ReceiveAny(Unhandled);
    }

    private bool FromCoordinator => Sender.Equals(_coordinator);

    private void Finished()
    {
        Timers.Cancel(AskOthers.Instance);
        Receive<Terminated>(_ => { });
        Receive<Tick>(_ => { });
        ReceiveAny(Unhandled);
    }

    private void RegisterWith(Address coordinator)
    {
        _coordinatorAddress = coordinator;
        Register();
        Become(Registering);
    }

    private void Register()
    {
        RegisterAt(_coordinatorAddress!);
        // The first coordinator-role member seen may be a standby, which answers nobody: ask them all, the active one answers.
        RegisterWithOthers(except: _coordinatorAddress);
        Timers.StartSingleTimer(RetryRegistration.Instance, RetryRegistration.Instance, TimeSpan.FromSeconds(1));
    }

    private void Join(Welcome welcome)
    {
        if (!Trusts(welcome)) return;
        if (welcome.Term < _term)
        {
            Fence(welcome);
            return;
        }
        Timers.Cancel(AskOthers.Instance);
        if (_coordinator is not null && !Sender.Equals(_coordinator))
        {
            Context.Unwatch(_coordinator);
            _transport.Forget(_coordinator);
            ForgetPeers();
        }
        _term = welcome.Term;
        if (Sender.Path.Address.HasGlobalScope) _coordinatorAddress = Sender.Path.Address;
        Timers.Cancel(RetryRegistration.Instance);
        _sinceContact.Restart();
        _sinceWork.Restart();
        var problem = CheckData(welcome.Data);
        if (problem is not null)
        {
            _settings.Log($"worker {_settings.Name}: cannot join run {welcome.RunId}: {problem}");
            Sender.Tell(new WorkerFailed(welcome.RunId, problem));
            return;
        }
        _runId = welcome.RunId;
        _coordinator = Sender;
        Context.Watch(_coordinator);
        var model = new Sequential<float>(BuildLayers(welcome.Model));
        _trainer = new ShardTrainer(model, welcome.Model.Seed);
        StartReplica(welcome, model);
        _weightsVersion = -1;
        _latestStep = -1;
        _stepsPerEpoch = welcome.StepsPerEpoch;
        _wire = welcome.Wire;
        _thisEpoch = (0, 0, 0);
        _stepsWorked = 0;
        _bytesAtJoin = (ProtocolCodec.Totals.Bytes, ProtocolCodec.BytesRead);
        _settings.Log($"worker {_settings.Name}: joined run {welcome.RunId} at {_coordinatorAddress} (model {welcome.Model.Description})");
        Become(Ready);
        _transport.Accept(welcome.DataPlane, _coordinator, Self);
    }

    /// <summary>
    /// With TLS, any member of the cluster may claim the coordinator role: only a Welcome signed by a
    /// coordinator certificate over this worker's challenge and the sender's address counts. A
    /// refused member is never asked again; another coordinator already up is tried instead.
    /// </summary>
    private bool Trusts(Welcome welcome)
    {
        if (_settings.Verifier is null) return true;
        var from = Sender.Path.Address.HasGlobalScope ? Sender.Path.Address : _cluster.SelfAddress;
        string? problem = _settings.Verifier.Check(welcome.Proof, new WelcomeClaim(_challenge, from.ToString(), welcome.RunId, _settings.Name, welcome.DataPlane));
        if (problem is null) return true;
        if (!_refused.Add(from)) return false;
        _settings.Log($"worker {_settings.Name}: refused {from} as coordinator: {problem}");
        if (_coordinator is null && from == _coordinatorAddress)
        {
            Timers.Cancel(RetryRegistration.Instance);
            _coordinatorAddress = null;
            Become(Searching);
            var other = _cluster.State.Members.FirstOrDefault(m => m.Status == MemberStatus.Up && m.HasRole(Roles.Coordinator) && !_refused.Contains(m.Address));
            if (other is not null) RegisterWith(other.Address);
        }
        return false;
    }

    private string? CheckData(DataSpec spec)
    {
        var data = _settings.Data;
        if (data.Count < spec.TrainSamples)
            return $"the coordinator trains on {spec.TrainSamples} images, this worker's data has {data.Count}.";
        if (data.Fingerprint(spec.TrainSamples) != spec.Fingerprint)
            return $"this worker's first {spec.TrainSamples} training images differ from the coordinator's (SHA-256 {data.Fingerprint(spec.TrainSamples)[..12]}… vs {spec.Fingerprint[..12]}…).";
        return null;
    }

    // The replica's initial values do not matter: the coordinator's weights come with the first work.
    private static IEnumerable<ILayer<float>> BuildLayers(ModelSpec spec) => spec.Description.Build<float>(seed: 0).Layers;

    private void Compute(ComputePieces work)
    {
        _sinceContact.Restart();
        _sinceWork.Restart();
        if (work.RunId != _runId)
        {
            _settings.Log($"worker {_settings.Name}: dropped work for unknown run {work.RunId}");
            return;
        }
        if (work.Step < _latestStep)
        {
            _settings.Log($"worker {_settings.Name}: dropped work for stale step {work.Step} (at step {_latestStep})");
            return;
        }
        if (work.Peers is { } peers)
        {
            ComputePeers(work, peers);
            return;
        }
        if (work.Step > _latestStep) _stepsWorked++;
        _latestStep = work.Step;
        LogEpochIfEnded(work.Step);
        var model = _trainer!.Model;
        if (work.Weights is not null)
        {
            model.LoadValues(work.Weights.Inline);
            work.Weights.Release();
            _weightsVersion = work.WeightsVersion;
        }
        else if (work.WeightsVersion != _weightsVersion)
        {
            _settings.Log($"worker {_settings.Name}: step {work.Step} needs weights version {work.WeightsVersion}, holds {_weightsVersion}; dropped");
            return;
        }
        var coordinator = Sender;
        ComputeEach(work, (shard, outcome, ms) =>
        {
            // Pooled: whoever sends or receives it last returns the array (see TensorEnvelope.Pooled).
            var gradient = TensorPool.Rent(model.ParameterCount);
            model.CopyGradientsTo(gradient);
            _transport.Send(coordinator, new PieceResult(_runId, work.Step, shard.Shard, outcome.Samples, outcome.LossSum, outcome.Correct,
                new TensorEnvelope(gradient, Pooled: true, Wire: _wire), ms, shard.Count), Self);
        });
    }

    /// <summary>
    /// Computes each valid piece of the work on this worker's threads, timed and credited, and hands
    /// its outcome to <paramref name="send"/> while the model's gradients hold the piece's sum.
    /// </summary>
    private void ComputeEach(ComputePieces work, Action<PieceAssignment, (int Samples, double LossSum, int Correct), double> send)
    {
        using var serial = Gemm.SerialOnThisThread(_settings.Threads == 1);
        foreach (var shard in work.Shards)
        {
            if (!IsValid(shard))
            {
                _settings.Log($"worker {_settings.Name}: dropped shard {shard.Shard} of step {work.Step}: its piece boundaries are not valid");
                continue;
            }
            long start = Stopwatch.GetTimestamp();
            var outcome = Run(shard, work.Step);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Credit(shard.Count, ms);
            send(shard, outcome, ms);
        }
    }

    /// <summary>This process's protocol bytes since it joined, per step it worked on: its link's load.</summary>
    private string Traffic()
    {
        long sent = ProtocolCodec.Totals.Bytes - _bytesAtJoin.Sent, received = ProtocolCodec.BytesRead - _bytesAtJoin.Received;
        int steps = Math.Max(1, _stepsWorked);
        return $"sent {sent / steps:N0} and received {received / steps:N0} bytes per step over {_stepsWorked} steps";
    }

    private static bool IsValid(PieceAssignment shard) => shard.Samples.Length > 0 && (shard.Segments is not { } b ||
        (b.Length >= 2 && b[0] == 0 && b[^1] == shard.Samples.Length && b.Zip(b.Skip(1)).All(p => p.Second > p.First && p.Second - p.First <= Gemm.KC)));

    /// <summary>A shard, or a piece of consecutive shards in one segmented pass; the model's gradients then hold their sum.</summary>
    private (int Samples, double LossSum, int Correct) Run(PieceAssignment shard, long step)
    {
        if (shard.Segments is null)
        {
            var o = _trainer!.Run(_settings.Data, shard.Samples, step);
            return (o.Samples, o.LossSum, o.Correct);
        }
        var outcomes = _trainer!.Run(_settings.Data, shard.Samples, shard.Segments, step);
        return (outcomes.Sum(o => o.Samples), outcomes.Sum(o => o.LossSum), outcomes.Sum(o => o.Correct));
    }

    // Work for a step of a later epoch: say what this worker did in the epoch before.
    private void LogEpochIfEnded(long step)
    {
        if (_stepsPerEpoch <= 0) return;
        int epoch = (int)(step / _stepsPerEpoch) + 1;
        if (epoch == _thisEpoch.Epoch) return;
        LogEpoch();
        _thisEpoch = (epoch, 0, 0);
    }

    private void LogEpoch()
    {
        if (_thisEpoch.Shards > 0)
            _settings.Log($"worker {_settings.Name}: epoch {_thisEpoch.Epoch}: {_thisEpoch.Shards} shards, {_thisEpoch.Milliseconds / _thisEpoch.Shards:F2} ms each");
    }

    /// <summary>
    /// A Welcome from a coordinator of a term this worker has moved past (or of the same term from
    /// another node: the first to welcome it wins): refused, and that coordinator told, so it gives
    /// the worker's shards to others instead of waiting for it.
    /// </summary>
    private void Fence(Welcome welcome)
    {
        _settings.Log($"worker {_settings.Name}: refused the Welcome of term {welcome.Term} from {Sender.Path.Address}: it follows term {_term}");
        Sender.Tell(new WorkerFailed(welcome.RunId, $"this worker follows a coordinator of term {_term}; this one is of term {welcome.Term}"));
    }

    /// <summary>Registers with every reachable coordinator-role member but <paramref name="except"/>: only an active one answers.</summary>
    private void RegisterWithOthers(Address? except)
    {
        var unreachable = _cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        foreach (var member in _cluster.State.Members)
            if (member.Status == MemberStatus.Up && member.HasRole(Roles.Coordinator) && member.Address != except && !unreachable.Contains(member.Address) && !_refused.Contains(member.Address))
                RegisterAt(member.Address);
    }

    /// <summary>A registration to the coordinator actor of a node (found by name: this worker may never have heard from it).</summary>
    private void RegisterAt(Address node) =>
        Context.ActorSelection(new RootActorPath(node) / "user" / ActorNames.Coordinator).Tell(new RegisterWorker(_settings.Name, _settings.Threads, _challenge));

    private void LoseCoordinator(string how)
    {
        _settings.Log($"worker {_settings.Name}: coordinator at {_coordinatorAddress} {how}; searching again");
        if (_coordinator is not null)
        {
            Context.Unwatch(_coordinator);
            _transport.Forget(_coordinator);
        }
        ForgetPeers();
        _coordinator = null;
        _coordinatorAddress = null;
        Become(Searching);
        // A standby that took over is already a member: no MemberUp will come for it.
        Timers.StartPeriodicTimer(AskOthers.Instance, AskOthers.Instance, TimeSpan.Zero, AskOthersEvery);
    }
}
