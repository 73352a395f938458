using System.Security.Cryptography.X509Certificates;

namespace Distributed.Shared.Cluster;

/// <summary>
/// The role a node certificate is issued for, written by deploy/make-certs.sh as the subject's
/// organizational unit (<c>OU=coordinator</c> or <c>OU=worker</c>). Any certificate of the cluster's
/// CA may be a worker; only one issued for <see cref="Roles.Coordinator"/> may act as coordinator.
/// </summary>
public static class CertificateRole
{
    private const string OrganizationalUnit = "2.5.4.11";

    /// <summary>The role named in the certificate's subject, or null when it names none.</summary>
    public static string? Of(X509Certificate2 certificate)
    {
        foreach (var name in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
            if (name.GetSingleElementType().Value == OrganizationalUnit && name.GetSingleElementValue() is Roles.Coordinator or Roles.Worker)
                return name.GetSingleElementValue();
        return null;
    }

    /// <summary>How a certificate's role is named in messages: "a worker certificate", "a certificate with no role".</summary>
    public static string Describe(X509Certificate2 certificate) => Of(certificate) is { } role ? $"a {role} certificate" : "a certificate with no role";
}
