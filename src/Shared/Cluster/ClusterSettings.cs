using Akka.Configuration;
using Distributed.Shared.Security;

using Distributed.Shared.Protocol;

namespace Distributed.Shared.Cluster;

/// <summary>Role names of the cluster's nodes.</summary>
public static class Roles
{
    public const string Coordinator = "coordinator";
    public const string Worker = "worker";
}

/// <summary>
/// Where a node listens and whom it joins, and the Akka configuration that follows from it.
/// </summary>
/// <param name="Role">One of <see cref="Roles"/>.</param>
/// <param name="Hostname">Address to bind and advertise (127.0.0.1 on one machine).</param>
/// <param name="Port">TCP port; 0 lets the OS choose.</param>
/// <param name="SeedNodes">Addresses such as akka.tcp://distributed@10.0.0.5:4053; empty makes the node its own seed.</param>
/// <param name="MaximumFrameSize">Largest remote message in bytes (see <see cref="DefaultMaximumFrameSize"/>).</param>
/// <param name="Tls">Mutual TLS for every connection, or null for plain TCP.</param>
/// <param name="ExtraHocon">Configuration that takes precedence over the rest (tests use it to add transport adapters).</param>
/// <param name="PublicHostname">Address other nodes use to reach this one when it differs from the bound one (containers bind 0.0.0.0).</param>
/// <param name="DataPort">
/// The tensor data plane: on a coordinator, the TCP port it listens on for workers' data connections
/// (0: any free port); on a worker, any number means "connect when offered". Null: weights and
/// gradients travel over Akka.Remote.
/// </param>
/// <param name="Wire">On a coordinator: the number format of weights and gradients on the wire (float32 = exact).</param>
/// <param name="Peers">On a coordinator: the peer exchange (workers reduce-scatter gradients among themselves and are full replicas) instead of every gradient coming to the coordinator.</param>
/// <param name="HealthPort">Serve /health/live and /health/ready on this port (<see cref="HealthEndpoint"/>); null: no endpoint.</param>
public sealed record ClusterSettings(string Role, string Hostname = "127.0.0.1", int Port = 0, IReadOnlyList<string>? SeedNodes = null,
    int MaximumFrameSize = ClusterSettings.DefaultMaximumFrameSize, string LogLevel = "WARNING", TlsSettings? Tls = null, string? ExtraHocon = null,
    string? PublicHostname = null, int? DataPort = 0, int? HealthPort = null, Protocol.TensorWire Wire = Protocol.TensorWire.Float32, bool Peers = false)
{
    /// <summary>Starts a bare node (a generic host running an ActorSystem with this configuration, no actors) and returns its ActorSystem.</summary>
    public Akka.Actor.ActorSystem CreateSystem() => NodeHost.Start(this).System;

    /// <summary><see cref="Hocon"/> with <see cref="ExtraHocon"/> taking precedence (what <see cref="NodeHosting.WithNode"/> adds).</summary>
    public Config FullHocon() => ExtraHocon is null ? Hocon() : ConfigurationFactory.ParseString(ExtraHocon).WithFallback(Hocon());

    public const string SystemName = "distributed";

    /// <summary>The address scheme of this transport: akka.tcp, or akka.ssl.tcp with TLS.</summary>
    public static string Scheme(bool tls) => tls ? "akka.ssl.tcp" : "akka.tcp";

    /// <summary>See <see cref="MessageLimits.DefaultMaximumFrameSize"/>.</summary>
    public const int DefaultMaximumFrameSize = MessageLimits.DefaultMaximumFrameSize;

    /// <summary>Bytes a message holding one tensor of the model needs, with room for its other fields.</summary>
    public static long MessageBytesFor(int parameterCount) => 4L * parameterCount + 64 * 1024;

    /// <summary>What the typed options do not cover: logging, the serializer, cluster timings, the resolver's stability window.</summary>
    public Config Hocon() => ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = {{LogLevel}}
              stdout-loglevel = {{LogLevel}}
              loggers = ["Distributed.Shared.Cluster.OneLineLogger, Distributed.Cluster"]
              log-dead-letters = 0
              log-dead-letters-during-shutdown = off
              actor {
                provider = cluster
                # A Kill from a peer must not stop our actors (untrusted mode does not drop it; see the class).
                guardian-supervisor-strategy = "Distributed.Shared.Cluster.KillRefusingGuardianStrategy, Distributed.Cluster"
                serializers { distributed = "Distributed.Shared.Protocol.ProtocolSerializer, Distributed.Cluster" }
                serialization-bindings { "Distributed.Shared.Protocol.IClusterMessage, Distributed.Cluster" = distributed }
              }
              remote {
                # Associations come and go with workers; the coordinator logs what matters itself.
                log-remote-lifecycle-events = off
                # A peer may only talk protocol: remote PoisonPill, Kill, remote deployment and
                # actor selections to anything but the cluster's own daemons and our actors are
                # dropped (a remote PoisonPill once left the coordinator hung).
                untrusted-mode = on
                trusted-selection-paths = [
                  "{{ActorNames.UserPath(ActorNames.Coordinator)}}", "{{ActorNames.UserPath(ActorNames.Worker)}}", "{{ActorNames.UserPath(ActorNames.Standby)}}",
                  "/system/cluster/core/daemon", "/system/cluster/heartbeatReceiver", "/system/remote-watcher"
                ]
              }
              cluster {
                # Timings tuned for a trainer (measured on loopback: all Up after ~1 s, a killed node
                # unreachable after ~2.7 s, removed after ~7 s; defaults are 1.6 s, 5 s and 27 s).
                gossip-interval = 200ms
                leader-actions-interval = 200ms
                periodic-tasks-initial-delay = 100ms
                retry-unsuccessful-join-after = 1s
                seed-node-timeout = 2s
                # A quarter of the default 1 s: losses are seen sooner, and nodes cut off together
                # are reported close together (a standby's takeover waits for that; StandbyActor).
                unreachable-nodes-reaper-interval = 250ms
                failure-detector {
                  heartbeat-interval = 500ms
                  acceptable-heartbeat-pause = 2s
                }
                # Split brain (resolver set in NodeHosting.WithNode): the side with the oldest
                # coordinator-role node (the coordinator) keeps running, even alone; workers cut off
                # from it are downed and stop. keep-majority would down the coordinator whenever most
                # workers sit on the other side. A worker whose link to the coordinator alone broke is
                # downed by the coordinator after 2.5 s, before the resolver would down both ends.
                split-brain-resolver.stable-after = 4s
                run-coordinated-shutdown-when-down = on
              }
              coordinated-shutdown.exit-clr = off
              # SIGTERM is the program's to handle (Lifetime.StopSignal: finish the step, checkpoint,
              # then leave); Akka's hook would shut the node down mid-step first.
              coordinated-shutdown.run-by-clr-shutdown-hook = off
            }
            """);
}
