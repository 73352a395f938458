using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Distributed.Shared.Security;

namespace Distributed.Shared.Protocol.DataPlane;

/// <summary>
/// How a data-plane connection is opened and proven: mutual TLS with the cluster's certificates when
/// the cluster uses TLS (the same CA check as Akka.Remote), then the one-time token from the worker's
/// Welcome. Without TLS the token still keeps strangers out, but the tensors travel in clear, as
/// Akka.Remote's do without TLS.
/// </summary>
internal sealed class DataPlaneSecurity
{
    private static readonly byte[] Magic = "DPL1"u8.ToArray();
    private readonly (X509Certificate2 Certificate, X509Certificate2 Ca)? _tls;

    public DataPlaneSecurity(TlsSettings? tls) => _tls = tls?.Load();

    // Both ends accept exactly the certificates the cluster's CA issued (as Akka.Remote's TLS does).
    private static RemoteCertificateValidationCallback IssuedBy(X509Certificate2 ca) =>
        (_, certificate, _, _) => certificate is not null && TlsSettings.IssuedBy(ca, certificate);

    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public static void Tune(Socket socket)
    {
        socket.NoDelay = true;
        socket.SendBufferSize = 1 << 21;
        socket.ReceiveBufferSize = 1 << 21;
    }

    /// <summary>Server side: TLS (if configured), then reads the token. Null when the peer is not one of ours.</summary>
    public async Task<(Stream Stream, string Token)?> AcceptAsync(Socket socket, CancellationToken cancel)
    {
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (_tls is { } tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = tls.Certificate,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = IssuedBy(tls.Ca),
            }, cancel);
            stream = ssl;
        }
        var magic = new byte[Magic.Length];
        await stream.ReadExactlyAsync(magic, cancel);
        if (!magic.AsSpan().SequenceEqual(Magic)) return null;
        var length = new byte[1];
        await stream.ReadExactlyAsync(length, cancel);
        var token = new byte[length[0]];
        await stream.ReadExactlyAsync(token, cancel);
        return (stream, Encoding.ASCII.GetString(token));
    }

    /// <summary>Client side: connects, TLS (if configured), sends the token and waits for the verdict.</summary>
    public async Task<Stream?> ConnectAsync(DataPlaneTicket ticket, CancellationToken cancel)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        Tune(socket);
        await socket.ConnectAsync(ticket.Host, ticket.Port, cancel);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (_tls is { } tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = ticket.Host,
                ClientCertificates = [tls.Certificate],
                RemoteCertificateValidationCallback = IssuedBy(tls.Ca),
            }, cancel);
            stream = ssl;
        }
        var token = Encoding.ASCII.GetBytes(ticket.Token);
        await stream.WriteAsync(Magic, cancel);
        await stream.WriteAsync(new[] { (byte)token.Length }, cancel);
        await stream.WriteAsync(token, cancel);
        await stream.FlushAsync(cancel);
        var verdict = new byte[1];
        await stream.ReadExactlyAsync(verdict, cancel);
        if (verdict[0] == 1) return stream;
        await stream.DisposeAsync();
        return null;
    }
}
