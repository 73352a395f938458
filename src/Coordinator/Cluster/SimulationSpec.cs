using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Security;

namespace Distributed.Coordinator.Cluster;

/// <summary>
/// A single-machine cluster's shape, immutable and built once: how many workers, how they are
/// watched, and how tensors travel between nodes. With the training options and <see cref="RunHooks"/>
/// it is the whole specification of a simulated run.
/// </summary>
public sealed record SimulationSpec(int Workers, Supervision Supervision)
{
    /// <summary>Largest remote message in bytes (see <see cref="MessageLimits.DefaultMaximumFrameSize"/>).</summary>
    public int FrameSize { get; init; } = ClusterSettings.DefaultMaximumFrameSize;

    /// <summary>Mutual TLS between the nodes, or null for plain TCP.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Tensors over the dedicated data plane (true) or over Akka.Remote.</summary>
    public bool DataPlane { get; init; } = true;

    public TensorWire Wire { get; init; } = TensorWire.Float32;

    /// <summary>The peer exchange (--exchange peers): workers reduce-scatter gradients among themselves.</summary>
    public bool Peers { get; init; }

    /// <summary>The defaults for <paramref name="workers"/> workers, waiting for all of them.</summary>
    public static SimulationSpec For(int workers) => new(workers, Supervision.For(workers));
}
