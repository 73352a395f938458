using System.Net;
using System.Net.Sockets;

namespace Distributed.Tests;

/// <summary>Loopback TCP ports nobody listens on, for nodes that must be given their port before they start.</summary>
public static class FreePorts
{
    /// <summary><paramref name="count"/> distinct ports: every one is held until all are chosen, so none is handed out twice.</summary>
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    public static int One() => Take(1)[0];
}
