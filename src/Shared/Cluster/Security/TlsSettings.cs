using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Distributed.Shared.Data;

namespace Distributed.Shared.Security;

/// <summary>
/// Mutual TLS for Akka.Remote: this node presents <paramref name="CertificatePath"/> (PKCS#12 with
/// its key) and accepts a peer only if the peer's certificate chains to the CA in
/// <paramref name="CaPath"/>, on both ends of every connection. A node without such a certificate
/// cannot join, gossip or send messages. Hostnames are not checked (nodes join by IP), the CA is.
/// </summary>
public sealed record TlsSettings(string CertificatePath, string Password, string CaPath)
{
    public const string PasswordVariable = "DISTRIBUTED_TLS_PASSWORD";

    /// <summary>Loads the certificates, with an error naming the file when one cannot be read.</summary>
    public DotNettySslSetup ToSetup()
    {
        var (certificate, ca) = Load();
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true, ChainsTo(ca));
    }

    /// <summary>This node's certificate (with its key) and the cluster's CA, with an error naming the file when one cannot be read.</summary>
    public (X509Certificate2 Certificate, X509Certificate2 Ca) Load()
    {
        X509Certificate2 certificate, ca;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, Password, X509KeyStorageFlags.Exportable);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new DataFormatException(CertificatePath, $"cannot load the node certificate (PKCS#12 with its key; wrong password?): {e.Message}");
        }
        if (!certificate.HasPrivateKey) throw new DataFormatException(CertificatePath, "the certificate has no private key.");
        try
        {
            ca = X509CertificateLoader.LoadCertificateFromFile(CaPath);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new DataFormatException(CaPath, $"cannot load the CA certificate: {e.Message}");
        }
        return (certificate, ca);
    }

    /// <summary>True when <paramref name="certificate"/> was issued by the cluster's CA, whatever the machine's trust store holds.</summary>
    public static bool IssuedBy(X509Certificate2 ca, X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (certificate is X509Certificate2 full) return chain.Build(full);
        using var converted = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(converted);
    }

    // Accept exactly the certificates issued by our CA, whatever the machine's trust store holds.
    private static CertificateValidationCallback ChainsTo(X509Certificate2 ca) => (certificate, _, remotePeer, _, log) =>
    {
        if (certificate is null)
        {
            log.Warning("TLS: {0} presented no certificate; refused", remotePeer);
            return false;
        }
        bool ok = IssuedBy(ca, certificate);
        if (!ok) log.Warning("TLS: certificate {0} of {1} does not chain to the cluster's CA; refused", certificate.Subject, remotePeer);
        return ok;
    };
}
