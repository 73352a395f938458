using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distributed.Shared.Data;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Distributed.Shared.Security;

namespace Distributed.Shared.Cluster;

/// <summary>
/// The coordinator's side of role binding: its certificate, which must have been issued for the
/// coordinator role, and the private key that signs each <see cref="WelcomeClaim"/>.
/// </summary>
public sealed class CoordinatorIdentity
{
    private readonly X509Certificate2 _certificate;
    private readonly string _certificateText;

    private CoordinatorIdentity(X509Certificate2 certificate)
    {
        _certificate = certificate;
        _certificateText = Convert.ToBase64String(certificate.RawData);
    }

    /// <summary>Loads the coordinator's certificate; a certificate not issued for the coordinator role is refused, naming the file.</summary>
    public static CoordinatorIdentity Load(TlsSettings tls)
    {
        var (certificate, _) = tls.Load();
        if (CertificateRole.Of(certificate) != Roles.Coordinator)
            throw new DataFormatException(tls.CertificatePath,
                $"is {CertificateRole.Describe(certificate)}; a coordinator needs one issued for the coordinator role (deploy/make-certs.sh DIR --coordinator NAME).");
        return new CoordinatorIdentity(certificate);
    }

    public CoordinatorProof Prove(WelcomeClaim claim) => new(_certificateText, Convert.ToBase64String(Sign(_certificate, claim.ToBytes())));

    private static byte[] Sign(X509Certificate2 certificate, byte[] data)
    {
        if (certificate.GetRSAPrivateKey() is { } rsa) using (rsa) return rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        if (certificate.GetECDsaPrivateKey() is { } ec) using (ec) return ec.SignData(data, HashAlgorithmName.SHA256);
        throw new CryptographicException("the coordinator certificate's key is neither RSA nor ECDSA.");
    }
}
