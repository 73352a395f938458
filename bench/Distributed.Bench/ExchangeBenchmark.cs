using System.Diagnostics;
using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Protocol.DataPlane;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;

namespace Distributed.Bench;

/// <summary>
/// One parameter exchange with one worker, as a training step does it: the coordinator sends the
/// weights (940 KB for the default MLP) in a ComputePieces message, the worker answers with a
/// gradient of the same size in a PieceResult, with no computation in between. Two nodes (two
/// ActorSystems on loopback, the worker a cluster member), over the tensor data plane and over
/// Akka.Remote; median round trip and the garbage collections it caused.
/// </summary>
public static class ExchangeBenchmark
{
    public const int DefaultMlpParameters = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;

    public sealed record Result(string Transport, double MedianMs, double P90Ms, int Gen0, int Gen1, int Gen2, double AllocatedMbPerExchange);

    public static Result Measure(bool dataPlane, int exchanges = 400, int warmup = 100)
    {
        var coordinatorSystem = new ClusterSettings(Roles.Coordinator).CreateSystem();
        var cluster = Akka.Cluster.Cluster.Get(coordinatorSystem);
        cluster.Join(cluster.SelfAddress);
        var workerSystem = new ClusterSettings(Roles.Worker, SeedNodes: [cluster.SelfAddress.ToString()]).CreateSystem();
        ITensorTransport server = dataPlane ? DataPlaneServer.Start("127.0.0.1", "127.0.0.1", 0, null, _ => { }) : AkkaRemoteTransport.Instance;
        ITensorTransport client = dataPlane ? new DataPlaneClient(null, _ => { }) : AkkaRemoteTransport.Instance;
        try
        {
            var echo = workerSystem.ActorOf(Props.Create(() => new Echo(client)), "worker"); // the worker's path: untrusted mode lets remote selections reach only trusted paths
            var done = new TaskCompletionSource<double[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            var remoteEcho = coordinatorSystem.ActorSelection(new RootActorPath(Akka.Cluster.Cluster.Get(workerSystem).SelfAddress) / "user" / "worker")
                .ResolveOne(TimeSpan.FromSeconds(10)).Result;
            var driver = coordinatorSystem.ActorOf(Props.Create(() => new Driver(server, remoteEcho, warmup, exchanges, done)), "driver");
            // Give the data connection time to open before the first exchange.
            Thread.Sleep(1000);
            driver.Tell("go");
            if (!done.Task.Wait(TimeSpan.FromMinutes(2))) throw new TimeoutException("exchange benchmark did not finish");
            var (times, gc) = (done.Task.Result, Driver.Gc);
            var sorted = times.Order().ToArray();
            return new Result(dataPlane ? "tensor data plane (TCP)" : "Akka.Remote", sorted[sorted.Length / 2], sorted[sorted.Length * 9 / 10],
                gc.Gen0, gc.Gen1, gc.Gen2, gc.Allocated / 1e6 / exchanges);
        }
        finally
        {
            (server as IDisposable)?.Dispose();
            (client as IDisposable)?.Dispose();
            workerSystem.Terminate().Wait(TimeSpan.FromSeconds(10));
            coordinatorSystem.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo(ITensorTransport transport)
        {
            var gradient = new float[DefaultMlpParameters];
            Receive<DataPlaneTicket>(t => transport.Accept(t, Sender, Self));
            Receive<ComputePieces>(c =>
            {
                c.Weights?.Release();
                transport.Send(Sender,
                    new PieceResult(c.RunId, c.Step, 0, 32, 1.0, 1, TensorEnvelope.Of(gradient), 0), Self);
            });
        }
    }

    private sealed class Driver : ReceiveActor
    {
        public static (int Gen0, int Gen1, int Gen2, long Allocated) Gc;

        public Driver(ITensorTransport transport, IActorRef echo, int warmup, int exchanges, TaskCompletionSource<double[]> done)
        {
            var weights = new float[DefaultMlpParameters];
            var times = new List<double>();
            long sentAt = 0;
            int round = 0;
            (int, int, int, long) atStart = default;
            void Send()
            {
                sentAt = Stopwatch.GetTimestamp();
                transport.Send(echo, new ComputePieces("bench", round, round, TensorEnvelope.Of(weights), [new PieceAssignment(0, new int[32])]), Self);
            }
            var ticket = transport.Offer(echo, Self);
            if (ticket is not null) echo.Tell(ticket, Self);
            Receive<string>(_ => Send());
            Receive<PieceResult>(r =>
            {
                r.GradientSum.Release();
                round++;
                if (round > warmup) times.Add(Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds);
                if (round == warmup) atStart = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes());
                if (round == warmup + exchanges)
                {
                    Gc = (GC.CollectionCount(0) - atStart.Item1, GC.CollectionCount(1) - atStart.Item2, GC.CollectionCount(2) - atStart.Item3,
                        GC.GetTotalAllocatedBytes() - atStart.Item4);
                    done.TrySetResult([.. times]);
                    return;
                }
                Send();
            });
        }
    }
}
