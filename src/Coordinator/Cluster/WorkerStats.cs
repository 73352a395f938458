using Akka.Actor;

namespace Distributed.Coordinator.Cluster;

/// <summary>A registered worker and what it has done (the per-worker figures in metrics.json).</summary>
public sealed class WorkerStats(string name, IActorRef worker, int threads)
{
    public string Name { get; } = name;

    public IActorRef Ref { get; } = worker;

    public string Address => Ref.Path.Address.ToString();

    public int Threads { get; } = threads;

    public int ShardsDone { get; private set; }

    public double ComputeMilliseconds { get; private set; }

    /// <summary>Time between sending a step's work and its last shard result, less the compute inside it.</summary>
    public double WaitMilliseconds { get; private set; }

    public int StepsServed { get; private set; }

    /// <summary>When this step's work was sent, and the compute reported since.</summary>
    public long SentAt { get; set; }

    public double ComputeThisStep { get; set; }

    public int OutstandingThisStep { get; set; }

    /// <summary>Samples of accepted shards since the last epoch ended.</summary>
    public int SamplesThisEpoch { get; set; }

    /// <summary>A result arrived covering <paramref name="shards"/> shards (a piece covers several).</summary>
    public void CountShards(int shards, double computeMs, long now)
    {
        ShardsDone += shards;
        ComputeMilliseconds += computeMs;
        ComputeThisStep += computeMs;
        bool outstanding = OutstandingThisStep > 0;
        OutstandingThisStep -= Math.Min(shards, OutstandingThisStep);
        if (outstanding && OutstandingThisStep == 0)
        {
            StepsServed++;
            WaitMilliseconds += System.Diagnostics.Stopwatch.GetElapsedTime(SentAt, now).TotalMilliseconds - ComputeThisStep;
        }
    }

    /// <param name="badResults">Results the run engine rejected as bad (non-finite, malformed, unassigned).</param>
    public object Summary(int badResults) => new
    {
        Name,
        Address,
        Threads,
        ShardsDone,
        MeanComputeMs = ShardsDone == 0 ? 0 : ComputeMilliseconds / ShardsDone,
        MeanWaitMsPerStep = StepsServed == 0 ? 0 : WaitMilliseconds / StepsServed,
        BadResults = badResults,
    };
}
