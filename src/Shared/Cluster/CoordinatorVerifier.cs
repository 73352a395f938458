using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Distributed.Shared.Security;

namespace Distributed.Shared.Cluster;

/// <summary>
/// The worker's side of role binding: a Welcome is accepted only with a proof from a certificate of
/// the cluster's CA issued for the coordinator role, signed over exactly what the worker expects.
/// </summary>
public sealed class CoordinatorVerifier(X509Certificate2 ca)
{
    public static CoordinatorVerifier? For(TlsSettings? tls) => tls is null ? null : new CoordinatorVerifier(tls.Load().Ca);

    /// <summary>Null when the proof holds; otherwise why the sender is not accepted as coordinator.</summary>
    public string? Check(CoordinatorProof? proof, WelcomeClaim claim)
    {
        if (proof is null) return "its welcome carries no proof of a coordinator certificate (is it running without TLS, or an older version?)";
        X509Certificate2 certificate;
        byte[] signature;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(proof.Certificate));
            signature = Convert.FromBase64String(proof.Signature);
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return "its welcome's proof is malformed";
        }
        using (certificate)
        {
            if (!TlsSettings.IssuedBy(ca, certificate)) return $"its certificate {certificate.Subject} was not issued by the cluster's CA";
            if (CertificateRole.Of(certificate) != Roles.Coordinator) return $"it holds {CertificateRole.Describe(certificate)} ({certificate.Subject}), not a coordinator's";
            return Verifies(certificate, claim.ToBytes(), signature) ? null : "its welcome's signature does not match this worker's challenge, its address and the run";
        }
    }

    private static bool Verifies(X509Certificate2 certificate, byte[] data, byte[] signature)
    {
        if (certificate.GetRSAPublicKey() is { } rsa) using (rsa) return rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        if (certificate.GetECDsaPublicKey() is { } ec) using (ec) return ec.VerifyData(data, signature, HashAlgorithmName.SHA256);
        return false;
    }
}
