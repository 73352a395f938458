using System.Net;
using System.Text;
using Akka.Actor;

namespace Distributed.Shared.Cluster;

/// <summary>
/// Liveness and readiness over HTTP, for Kubernetes probes: GET /health/live answers 200 while the
/// node's ActorSystem runs; GET /health/ready answers 200 once this node is Up in the cluster, 503
/// before (with its membership status). Stands in for Akka.Management's endpoint, which does not
/// start with the HTTP package the registry serves (see the README).
/// </summary>
public sealed class HealthEndpoint : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ActorSystem _system;

    private HealthEndpoint(ActorSystem system, string host, int port)
    {
        _system = system;
        _listener.Prefixes.Add($"http://{PrefixHost(host)}:{port}/health/");
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new IOException($"the health endpoint cannot listen on {host}:{port}: {e.Message}", e);
        }
        _ = Task.Run(Serve);
    }

    /// <summary>Listens where the node does: <paramref name="host"/> is its --hostname (a container's 0.0.0.0 means every interface, which the kubelet's probes need).</summary>
    public static HealthEndpoint Start(ActorSystem system, string host, int port) => new(system, host, port);

    /// <summary>The HttpListener prefix host for a bind address: "+" (every interface) for 0.0.0.0, else the address itself.</summary>
    public static string PrefixHost(string host) => host is "0.0.0.0" or "*" or "+" or "" ? "+" : host;

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            var (status, text) = Answer(context.Request.Url?.AbsolutePath ?? "");
            var body = Encoding.UTF8.GetBytes(text + "\n");
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.ContentLength64 = body.Length;
            try
            {
                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The prober went away; nothing to tell.
            }
        }
    }

    private (int Status, string Text) Answer(string path)
    {
        bool alive = !_system.WhenTerminated.IsCompleted;
        switch (path.TrimEnd('/'))
        {
            case "/health/live":
                return alive ? (200, "alive") : (503, "the actor system has terminated");
            case "/health/ready":
                if (!alive) return (503, "the actor system has terminated");
                var status = Akka.Cluster.Cluster.Get(_system).SelfMember.Status;
                return status == Akka.Cluster.MemberStatus.Up ? (200, "up") : (503, $"cluster member status {status}");
            default:
                return (404, "GET /health/live or /health/ready");
        }
    }

    public void Dispose()
    {
        if (_listener.IsListening) _listener.Stop();
        _listener.Close();
    }
}
