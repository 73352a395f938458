using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Protocol;
using Distributed.Shared.Protocol.DataPlane;

namespace Distributed.Worker;

/// <summary>
/// Starts a worker node: an ActorSystem in the worker role with one <see cref="WorkerActor"/>
/// (registered by <see cref="WorkerHosting.AddWorker"/>). Without a transport in the settings, the worker uses the coordinator's data plane when
/// offered (unless <see cref="ClusterSettings.DataPort"/> is null).
/// </summary>
public static class WorkerNode
{
    public static ActorSystem Start(ClusterSettings cluster, WorkerActor.Settings settings)
    {
        if (cluster.Role != Roles.Worker) throw new ArgumentException($"A worker node has role {Roles.Worker}, not {cluster.Role}.");
        settings = settings with
        {
            Transport = settings.Transport ?? (cluster.DataPort is null ? AkkaRemoteTransport.Instance
                : new PeerDataPlane(cluster.Hostname, cluster.PublicHostname ?? cluster.Hostname, cluster.Tls, settings.Log, cluster.MaximumFrameSize)),
            Verifier = settings.Verifier ?? CoordinatorVerifier.For(cluster.Tls),
            NotJoinedHint = settings.NotJoinedHint ?? NotJoinedHint(cluster),
        };
        var system = NodeHost.Start(cluster, akka => akka.AddWorker(settings)).System;
        if (settings.Transport is IDisposable disposable) system.RegisterOnTermination(disposable.Dispose);
        return system;
    }

    /// <summary>Why seeds may not answer: most often a TLS mismatch, which Akka reports only as failed associations.</summary>
    public static string NotJoinedHint(ClusterSettings cluster)
    {
        string seeds = string.Join(", ", cluster.SeedNodes ?? []);
        return cluster.Tls is null
            ? $"this node uses plain TCP; if the cluster uses TLS, that is probably why (give --tls-cert and --tls-ca). Otherwise check that a coordinator runs at {seeds}."
            : $"this node uses TLS; the cluster must too, with certificates from the same CA ({cluster.Tls.CaPath}). Otherwise check that a coordinator runs at {seeds}.";
    }
}
