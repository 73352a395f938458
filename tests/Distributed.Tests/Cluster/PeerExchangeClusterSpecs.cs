using Distributed.Coordinator.Cluster;
using Distributed.Coordinator.Training;
using Distributed.Shared.Cluster;
using Distributed.Shared.Training;

namespace Distributed.Tests.Cluster;

/// <summary>
/// --exchange peers on the in-process cluster: workers reduce-scatter slices among themselves over
/// their own data-plane links, and every run ends with the single process's weights.
/// </summary>
public class PeerExchangeClusterSpecs : IDisposable
{
    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 64, Shards = 4, Hidden = [32], TrainLimit = 640, TestLimit = 200 };
    private readonly string _folder = Directory.CreateTempSubdirectory("peers-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    private static async Task<(ClusterRunOutcome Outcome, List<string> Log)> Run(TrainingOptions options, SimulationSpec spec)
    {
        var log = new List<string>();
        var outcome = await ClusterSimulation.RunAsync(new TrainingRun(options, TestData.Subset(640, 200)), spec with { Peers = true },
            new RunHooks(l => { lock (log) log.Add(l); }), TimeSpan.FromMinutes(2));
        return (outcome, log);
    }

    [Fact]
    public async Task Peer_exchange_runs_with_1_2_and_3_workers_should_end_with_the_single_process_hash()
    {
        string local = new LocalTrainer(Options, TestData.Subset(640, 200), _ => { }, replicas: 2).Run().FinalWeightsSha256;
        foreach (int workers in new[] { 1, 2, 3 })
        {
            var (outcome, log) = await Run(Options, SimulationSpec.For(workers));
            Assert.Equal(local, outcome.Result.FinalWeightsSha256);
            lock (log)
            {
                // Each pair of workers shares one link; every replica passed the check of epoch 2.
                Assert.Equal(workers * (workers - 1) / 2, log.Count(l => l.Contains("data plane: connected to peer")));
                Assert.Equal(workers, log.Count(l => l.Contains("replica checked equal to the coordinator's weights 2 time(s)")));
                Assert.DoesNotContain(log, l => l.Contains("differ from the coordinator's") || l.Contains("asking for the run's state"));
            }
        }
    }

    [Fact]
    public async Task With_reduction_blocks_and_over_Akka_Remote_the_peer_exchange_should_keep_the_hash()
    {
        var options = Options with { Shards = 6, Blocks = 2, Epochs = 1 };
        string local = new LocalTrainer(options, TestData.Subset(640, 200), _ => { }, replicas: 2).Run().FinalWeightsSha256;
        Assert.Equal(local, (await Run(options, SimulationSpec.For(4))).Outcome.Result.FinalWeightsSha256);
        var (overAkka, log) = await Run(options, SimulationSpec.For(2) with { DataPlane = false });
        Assert.Equal(local, overAkka.Result.FinalWeightsSha256);
        lock (log) Assert.DoesNotContain(log, l => l.Contains("data plane: connected"));
    }

    [Fact]
    public async Task Under_TLS_peer_links_should_use_TLS_and_keep_the_hash()
    {
        var options = Options with { Epochs = 1 };
        string local = new LocalTrainer(options, TestData.Subset(640, 200), _ => { }, replicas: 2).Run().FinalWeightsSha256;
        var tls = TlsSpecs.MakeCertificates(_folder, "cluster-ca", "node", Roles.Coordinator);
        var (outcome, log) = await Run(options, SimulationSpec.For(2) with { Tls = tls });
        Assert.Equal(local, outcome.Result.FinalWeightsSha256);
        lock (log) Assert.Contains(log, l => l.Contains("data plane: connected to peer") && l.Contains("(TLS)"));
    }

    [Fact]
    public async Task With_the_bf16_wire_replicas_should_stay_identical_to_the_coordinator()
    {
        var (outcome, log) = await Run(Options, SimulationSpec.For(2) with { Wire = Shared.Protocol.TensorWire.BFloat16 });
        lock (log) Assert.Equal(2, log.Count(l => l.Contains("replica checked equal to the coordinator's weights 2 time(s)")));
        Assert.True(outcome.Result.Epochs[^1].TestAccuracy > 0.5);
    }
}
