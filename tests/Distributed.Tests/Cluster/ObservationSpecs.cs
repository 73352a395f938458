using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Real processes: a worker frozen mid-run is named in a stall line (with its missing shards) well
/// before the step timeout; a worker run at half speed (stopped and continued on a 50 % duty cycle)
/// is named a straggler within a few steps, in the log and in metrics.json; while nobody is slowed,
/// nobody is named.
/// </summary>
public sealed class ObservationSpecs : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("observe-").FullName;

    public void Dispose() => Directory.Delete(_out, true);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigCont = 18, SigStop = 19; // Linux x86-64 and arm64

    private ChildNode Coordinator(out string address, params string[] training)
    {
        var coordinator = ChildNode.Start("Coordinator", ["coordinator", "--port", "0", "--min-workers", "2", "--plain", "--out", _out, .. training]);
        coordinator.WaitFor("listening at akka.tcp://", TimeSpan.FromSeconds(60));
        address = Regex.Match(coordinator.Output, @"listening at (akka\.tcp://\S+)").Groups[1].Value;
        return coordinator;
    }

    private static ChildNode Worker(string address, string name) => ChildNode.Start("Worker", "--seed-node", address, "--port", "0", "--threads", "1", "--name", name);

    [Fact]
    public void A_worker_frozen_mid_run_should_be_named_with_its_missing_shards_before_the_step_timeout()
    {
        using var coordinator = Coordinator(out string address, "--epochs", "5000", "--batch-size", "64", "--hidden", "32", "--train-limit", "640", "--test-limit", "100",
            "--step-timeout", "8");
        using var running = Worker(address, "running");
        using var frozen = Worker(address, "frozen");
        coordinator.WaitFor("epoch 3/5000", TimeSpan.FromSeconds(60));
        frozen.Signal("STOP");
        try
        {
            coordinator.WaitFor("stalled", TimeSpan.FromSeconds(6));
            var line = coordinator.Output.Split('\n').First(l => l.Contains("stalled"));
            Assert.Matches(@"step \d+ stalled: [\d.]+ (ms|s) so far, the recent median step is \d+ ms; waiting for frozen \(shards? \d", line);
            Assert.DoesNotContain("running (", line);
            Assert.DoesNotContain("reached its deadline", coordinator.Output); // well before the 8 s step timeout
        }
        finally
        {
            frozen.Signal("CONT");
        }
        coordinator.Signal("TERM");
        Assert.Equal(143, coordinator.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_worker_at_half_speed_should_be_named_a_straggler_within_five_steps_and_nobody_before()
    {
        // LeNet-5, batch 512: ~0.1 s steps (5 per epoch), far longer than the 10 ms duty cycle, so "half speed" is smooth.
        using var coordinator = Coordinator(out string address, "--model", "lenet5", "--epochs", "12", "--batch-size", "512", "--train-limit", "2560", "--test-limit", "100");
        using var normal = Worker(address, "normal");
        using var slowed = Worker(address, "slowed");
        coordinator.WaitFor("epoch 4/12", TimeSpan.FromSeconds(120));
        Assert.DoesNotContain("straggler", coordinator.Output); // 20 steps at full speed: nobody named
        const long slowedFrom = 20; // the step under way when the duty cycle starts (epoch 4 just ended at step 20)
        using var stop = new CancellationTokenSource();
        var dutyCycle = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                kill(slowed.Pid, SigStop);
                Thread.Sleep(10);
                kill(slowed.Pid, SigCont);
                Thread.Sleep(10);
            }
        });
        dutyCycle.Start();
        try
        {
            coordinator.WaitFor("straggler slowed", TimeSpan.FromSeconds(60));
        }
        finally
        {
            stop.Cancel();
            dutyCycle.Join();
            kill(slowed.Pid, SigCont);
        }
        var line = coordinator.Output.Split('\n').First(l => l.Contains("straggler slowed"));
        long step = long.Parse(Regex.Match(line, @"step (\d+)\)").Groups[1].Value);
        Assert.True(step >= slowedFrom && step <= slowedFrom + 6, $"named at step {step}, slowed from step {slowedFrom}: {line}\n{coordinator.Output}");
        Assert.DoesNotContain("straggler normal", coordinator.Output);
        Assert.Equal(0, coordinator.WaitForExit(TimeSpan.FromSeconds(180)));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "metrics.json")));
        var named = metrics.RootElement.GetProperty("extra").GetProperty("stragglers").EnumerateArray().ToArray();
        Assert.Equal("slowed", Assert.Single(named).GetProperty("worker").GetString());
        Assert.True(named[0].GetProperty("latency_ratio").GetDouble() >= 1.5);
    }

    [Fact]
    public void A_cluster_run_should_write_its_steps_as_a_trace_with_a_track_per_worker()
    {
        var (code, _, error) = Cli.InProcess.Run("train", "--workers", "2", "--epochs", "1", "--batch-size", "64", "--hidden", "32", "--train-limit", "640", "--test-limit", "100",
            "--plain", "--out", _out);
        Assert.True(code == 0, error);
        using var trace = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "trace.json")));
        var events = trace.RootElement.GetProperty("traceEvents").EnumerateArray().ToArray();
        var tracks = events.Where(e => e.GetProperty("name").GetString() == "thread_name").Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToHashSet();
        Assert.Equal(new HashSet<string?> { "coordinator", "worker-1", "worker-2" }, tracks);
        // 10 steps of 64: each is a span on the coordinator's track, and each worker has spans with its reported compute.
        Assert.Equal(Enumerable.Range(0, 10).Select(s => $"step {s}"), events.Where(e => e.GetProperty("tid").GetInt32() == 0 && e.GetProperty("ph").GetString() == "X").Select(e => e.GetProperty("name").GetString()));
        Assert.All(new[] { 1, 2 }, tid => Assert.Contains(events, e => e.GetProperty("tid").GetInt32() == tid && e.GetProperty("name").GetString() == "compute (reported)"));
    }
}
