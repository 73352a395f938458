using System.Diagnostics.Metrics;
using Distributed.Shared.Protocol;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Distributed.Shared.Diagnostics;

/// <summary>
/// The cluster's metrics as System.Diagnostics.Metrics instruments (meter "Distributed", beside the
/// engine's <see cref="Training.StepMetrics"/>): shard and reduce times, bytes sent and received,
/// members up. Any OpenTelemetry listener can read them; <see cref="StartPrometheus"/> serves both
/// for Prometheus to scrape.
/// </summary>
public static class TrainingMetrics
{
    public const string MeterName = Training.StepMetrics.MeterName;

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly Histogram<double> ReduceTime = Meter.CreateHistogram<double>("distributed.reduce.duration", "ms", "Coordinator time to reduce a step's shards and step the optimizer.");
    private static readonly Counter<long> ShardsCounter = Meter.CreateCounter<long>("distributed.shards", "{shard}", "Shards computed by this node.");
    private static readonly Histogram<double> ShardTime = Meter.CreateHistogram<double>("distributed.shard.duration", "ms", "Time to compute one shard's forward and backward.");
    private static readonly Counter<long> StragglersCounter = Meter.CreateCounter<long>("distributed.stragglers", "{worker}", "Workers the coordinator named stragglers.");
    private static readonly Counter<long> StallsCounter = Meter.CreateCounter<long>("distributed.stalls", "{step}", "Steps the coordinator reported stalled.");
    private static int s_membersUp;

    static TrainingMetrics()
    {
        Meter.CreateObservableGauge("distributed.members.up", () => s_membersUp, "{member}", "Cluster members up, as the coordinator sees them.");
        Meter.CreateObservableCounter("distributed.sent", () => ProtocolCodec.Totals.Bytes, "By", "Bytes of protocol messages serialized (sent) by this process.");
        Meter.CreateObservableCounter("distributed.received", () => ProtocolCodec.BytesRead, "By", "Bytes of protocol messages deserialized (received) by this process.");
    }

    public static void Shard(double milliseconds)
    {
        ShardsCounter.Add(1);
        ShardTime.Record(milliseconds);
    }

    public static void Reduced(double milliseconds) => ReduceTime.Record(milliseconds);

    public static void StragglerNamed() => StragglersCounter.Add(1);

    public static void Stalled() => StallsCounter.Add(1);

    public static void MembersUp(int count) => s_membersUp = count;

    /// <summary>
    /// Serves the metrics at http://{host}:{port}/metrics until the returned provider is disposed:
    /// on the node's own address (every interface for 0.0.0.0), like its health endpoint.
    /// </summary>
    public static MeterProvider StartPrometheus(int port, string host = "localhost") =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(MeterName)
            .AddPrometheusHttpListener(o => o.ConfigureHttpListener = (_, listener) =>
            {
                listener.Prefixes.Clear();
                listener.Prefixes.Add($"http://{Cluster.HealthEndpoint.PrefixHost(host)}:{port}/");
            })
            .Build();
}
