using System.CommandLine;
using Distributed.Shared.Cluster;
using Distributed.Shared.Security;

namespace Distributed.Coordinator.Cli;

/// <summary>The mutual-TLS options (see deploy/make-certs.sh); all three or none.</summary>
public sealed class TlsOptions
{
    public Option<string?> Certificate { get; } = new("--tls-cert") { Description = "This node's certificate and key (PKCS#12 .pfx); enables mutual TLS." };
    public Option<string?> Ca { get; } = new("--tls-ca") { Description = "The cluster's CA certificate: peers must chain to it." };
    public Option<string?> Password { get; } = new("--tls-password") { Description = $"Password of --tls-cert (default: ${TlsSettings.PasswordVariable})." };

    public IEnumerable<Option> All => [Certificate, Ca, Password];

    public TlsSettings? Bind(ParseResult r)
    {
        string? cert = r.GetValue(Certificate), ca = r.GetValue(Ca);
        if (cert is null && ca is null) return null;
        string password = r.GetValue(Password) ?? Environment.GetEnvironmentVariable(TlsSettings.PasswordVariable) ?? "";
        return new TlsSettings(cert ?? "", password, ca ?? "");
    }

    public static IEnumerable<string> Validate(TlsSettings? tls)
    {
        if (tls is null) yield break;
        if (tls.CertificatePath.Length == 0 || tls.CaPath.Length == 0) yield return "--tls-cert and --tls-ca go together: give both or neither.";
        foreach (var path in new[] { tls.CertificatePath, tls.CaPath })
            if (path.Length > 0 && !File.Exists(path)) yield return $"{path}: TLS file not found.";
    }
}
