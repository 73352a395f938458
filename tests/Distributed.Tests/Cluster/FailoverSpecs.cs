using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Training;
using Distributed.Worker;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Standby coordinators in an in-process cluster (an active coordinator, a standby, 2 workers),
/// with the active one cut off from everyone (<see cref="Links"/>: to the others it died) at chosen
/// points of the run, the standby cut off instead, and only the link between the two coordinators
/// cut so that both believe they are active for a while. Every run must end with the hash of an
/// undisturbed single process. (deploy/chaos.sh coordinator-failover does the same with kill -9 of
/// real processes: ChaosScriptSpecs.)
/// </summary>
public class FailoverSpecs
{
    private const int CheckpointEvery = 8;
    private static readonly TrainingOptions Short = new() { Epochs = 2, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 1280, TestLimit = 100 };
    // Long enough (8,000 steps, several seconds) to outlast failure detection and the resolver's 4 s.
    private static readonly TrainingOptions Long = Short with { Epochs = 400 };
    private static readonly ConcurrentDictionary<TrainingOptions, TrainingResult> Undisturbed = new();

    private static TrainingResult UndisturbedRun(TrainingOptions options) =>
        Undisturbed.GetOrAdd(options, o => new LocalTrainer(o, TestData.Subset(1280, 100), _ => { }).Run());

    /// <summary>The four nodes, the log they share and the step hook that disturbs the run.</summary>
    private sealed class Nodes : IAsyncDisposable
    {
        public readonly List<string> Log = [];
        public CoordinatorNode Active = null!;
        public StandbyNode Standby = null!;
        public readonly List<ActorSystem> Workers = [];

        public ActorSystem[] All => [Active.System, Standby.System, .. Workers];

        public void Add(string line)
        {
            lock (Log) Log.Add(line);
        }

        public bool Logged(string text) => Logged(l => l.Contains(text));

        public bool Logged(Func<string, bool> line)
        {
            lock (Log) return Log.Any(line);
        }

        public string Text
        {
            get { lock (Log) return string.Join("\n", Log); }
        }

        public void WaitFor(string text) => WaitFor(l => l.Contains(text), $"'{text}'");

        public void WaitFor(Func<string, bool> line, string what) => WaitUntil(() => Logged(line), what);

        public void WaitUntil(Func<bool> condition, string what)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!condition())
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{what} did not appear:\n{Text}");
                Thread.Sleep(20);
            }
        }

        /// <summary>The run's outcome, or a failure that carries the log.</summary>
        public async Task<ClusterRunOutcome> Outcome(Task<ClusterRunOutcome> outcome, TimeSpan timeout)
        {
            try
            {
                return await outcome.WaitAsync(timeout);
            }
            catch (Exception e) when (e is ClusterRunFailedException or StandbyEndedException or TimeoutException)
            {
                Assert.Fail($"{e.GetType().Name}: {e.Message}\n{Text}");
                throw;
            }
        }

        public async ValueTask DisposeAsync() => await Task.WhenAll(All.Select(s => s.Terminate()));
    }

    /// <param name="disturb">
    /// Called once, on the active coordinator's thread, after step <paramref name="atStep"/> completed
    /// and once the standby holds the snapshot of step <paramref name="snapshotStep"/>.
    /// </param>
    private static Nodes Start(TrainingOptions options, long atStep, long snapshotStep, Action<Nodes> disturb)
    {
        var data = TestData.Subset(1280, 100);
        var nodes = new Nodes();
        bool done = false;
        var hooks = new RunHooks(nodes.Add)
        {
            CheckpointEvery = CheckpointEvery,
            OnStep = (run, _) =>
            {
                if (run.Step != atStep || done) return;
                done = true;
                // A fast run gets here before gossip has made the workers Up everywhere: a standby that does
                // not know them yet reaches no worker, and rightly stays one.
                nodes.WaitUntil(() => Akka.Cluster.Cluster.Get(nodes.Standby.System).State.Members.Count(m => m.HasRole(Roles.Worker) && m.Status == Akka.Cluster.MemberStatus.Up) == 2,
                    "both workers up as the standby sees it");
                nodes.WaitFor(l => l.Contains("standby: holds run") && l.EndsWith($" at step {snapshotStep}"), $"the standby's snapshot of step {snapshotStep}");
                disturb(nodes);
            },
        };
        nodes.Active = CoordinatorNode.Start(new ClusterSettings(Roles.Coordinator, ExtraHocon: Links.Throttler), new TrainingRun(options, data), Supervision.For(2), hooks);
        var seed = nodes.Active.Address;
        nodes.Standby = StandbyNode.Start(new ClusterSettings(Roles.Coordinator, SeedNodes: [seed], ExtraHocon: Links.Throttler), Supervision.For(2),
            new RunHooks(l => nodes.Add("[standby] " + l)) { CheckpointEvery = CheckpointEvery }, restore: c => TrainingRun.Restore(c, data), prepare: _ => { });
        // The standby's first snapshot (step 0) before any worker: then every later one is published as it falls due.
        nodes.WaitFor("standby: following run");
        foreach (var name in new[] { "worker-1", "worker-2" })
            nodes.Workers.Add(WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [seed], ExtraHocon: Links.Throttler),
                new WorkerActor.Settings(name, data.Train, 1, l => nodes.Add($"[{name}] {l}"), AkkaRemoteTransport.Instance)));
        return nodes;
    }

    /// <summary>
    /// The worker went over to the standby's coordinator: straight from its Welcome ("following the
    /// coordinator of term 2"), or, when the old coordinator's removal came first, by searching again
    /// and joining the standby's run.
    /// </summary>
    private static bool FollowedTermTwo(Nodes nodes, string worker)
    {
        if (nodes.Logged($"[{worker}] worker {worker}: following the coordinator of term 2")) return true;
        string? standbyRun = System.Text.RegularExpressions.Regex.Match(nodes.Text, @"\[standby\] coordinator: run (\S+),").Groups[1].Value;
        return standbyRun.Length > 0 && nodes.Logged($"[{worker}] worker {worker}: joined run {standbyRun} ");
    }

    /// <summary>The active coordinator isolated (as if killed) after step <paramref name="atStep"/>: the standby continues from its snapshot of step <paramref name="fromStep"/>.</summary>
    [Theory]
    [InlineData(12, 8)]  // mid-run: the step after 12 is in flight on both workers
    [InlineData(16, 8)]  // mid-checkpoint: step 16's checkpoint is due, its snapshot never leaves
    [InlineData(20, 16)] // at the epoch boundary: epoch 1's last step, before its evaluation reaches anyone
    public async Task When_the_active_coordinator_is_cut_off_the_standby_should_finish_the_run_exactly(long atStep, long fromStep)
    {
        var undisturbed = UndisturbedRun(Short);
        await using var nodes = Start(Short, atStep, fromStep, n => Links.Isolate(n.Active.System, [n.Standby.System, .. n.Workers]));
        var outcome = await nodes.Outcome(nodes.Standby.Outcome, TimeSpan.FromMinutes(2));
        Assert.Equal(undisturbed.FinalWeightsSha256, outcome.Result.FinalWeightsSha256);
        // The epochs' figures, epoch 1's evaluation included, are those of the undisturbed run.
        Assert.Equal(undisturbed.Epochs.Select(e => (e.TrainLoss, e.TestAccuracy)), outcome.Result.Epochs.Select(e => (e.TrainLoss, e.TestAccuracy)));
        Assert.Contains($"at step {fromStep} as term 2", nodes.Text);
        Assert.True(FollowedTermTwo(nodes, "worker-1") && FollowedTermTwo(nodes, "worker-2"), nodes.Text);
        Assert.False(nodes.Active.Outcome.IsCompletedSuccessfully);
    }

    /// <summary>
    /// Only the two coordinators lose each other: the standby takes over (the workers still reach
    /// it) while the old coordinator, which still reaches the workers, trains on until the downing
    /// reaches it. The workers follow term 2 and drop the old one's work; the result is exact.
    /// </summary>
    [Fact]
    public async Task Two_coordinators_both_believing_they_are_active_should_not_change_the_weights()
    {
        var undisturbed = UndisturbedRun(Long);
        await using var nodes = Start(Long, 12, 8, n => Links.Cut(n.Active.System, n.Standby.System));
        var outcome = await nodes.Outcome(nodes.Standby.Outcome, TimeSpan.FromMinutes(3));
        Assert.Equal(undisturbed.FinalWeightsSha256, outcome.Result.FinalWeightsSha256);
        Assert.Contains("as term 2", nodes.Text);
        // The old coordinator went on training after the cut; it was then downed, and its run failed.
        await nodes.Active.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
        var old = await Assert.ThrowsAsync<ClusterRunFailedException>(() => nodes.Active.Outcome);
        Assert.Contains("downed", old.Message);
        Assert.True(old.Step > 12, $"the old coordinator stopped at step {old.Step}: it never ran as a second active one\n{nodes.Text}");
    }

    /// <summary>The standby is the node cut off: it does not take over (it reaches no worker), is downed, and the run goes on exactly.</summary>
    [Fact]
    public async Task A_standby_cut_off_from_everyone_should_be_downed_and_the_run_go_on_exactly()
    {
        var undisturbed = UndisturbedRun(Long);
        await using var nodes = Start(Long, 12, 8, n => Links.Isolate(n.Standby.System, [n.Active.System, .. n.Workers]));
        var outcome = await nodes.Outcome(nodes.Active.Outcome, TimeSpan.FromMinutes(3));
        Assert.Equal(undisturbed.FinalWeightsSha256, outcome.Result.FinalWeightsSha256);
        await nodes.Standby.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("no worker is reachable from here either; not taking over", nodes.Text);
        Assert.DoesNotContain("taking over run", nodes.Text);
        Assert.DoesNotContain("term 2", nodes.Text);
    }
}
