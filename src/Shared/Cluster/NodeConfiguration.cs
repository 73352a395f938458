using Microsoft.Extensions.Configuration;
using Distributed.Shared.Security;

namespace Distributed.Shared.Cluster;

/// <summary>A node's network settings as configured (section "Node"), before validation.</summary>
public sealed class NodeOptions
{
    public string Hostname { get; set; } = "127.0.0.1";
    public string? PublicHostname { get; set; }
    public int Port { get; set; }
    public string[] SeedNodes { get; set; } = [];
    public int MaximumFrameSize { get; set; } = ClusterSettings.DefaultMaximumFrameSize;
    public int? MetricsPort { get; set; }

    /// <summary>Weights and gradients over a dedicated TCP connection per worker (true) or over Akka.Remote (false).</summary>
    public bool DataPlane { get; set; } = true;

    /// <summary>Serve /health/live and /health/ready on this port (Kubernetes probes).</summary>
    public int? HealthPort { get; set; }

    /// <summary>The coordinator's data-plane port (0: any free port; workers learn it from their Welcome).</summary>
    public int DataPort { get; set; }

    public TlsOptions Tls { get; set; } = new();

    public sealed class TlsOptions
    {
        public string? Certificate { get; set; }
        public string? Ca { get; set; }
        public string? Password { get; set; }
    }

    /// <summary>Problems, each naming the setting as it is spelled in appsettings.json; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Hostname)) errors.Add("Node:Hostname must not be empty.");
        if (Port is < 0 or > 65535) errors.Add($"Node:Port must be in 0–65535 (got {Port}).");
        if (MaximumFrameSize < 32_000) errors.Add($"Node:MaximumFrameSize must be at least 32000 bytes (got {MaximumFrameSize}).");
        if (DataPort is < 0 or > 65535) errors.Add($"Node:DataPort must be in 0–65535 (got {DataPort}).");
        if (DataPort != 0 && DataPort == Port) errors.Add($"Node:DataPort must differ from Node:Port (both {Port}).");
        if (HealthPort is < 1 or > 65535) errors.Add($"Node:HealthPort must be in 1–65535 (got {HealthPort}).");
        if (HealthPort is { } h && (h == Port || h == MetricsPort || h == DataPort)) errors.Add($"Node:HealthPort ({h}) must differ from Node:Port, Node:DataPort and Node:MetricsPort.");
        if (MetricsPort is < 1 or > 65535) errors.Add($"Node:MetricsPort must be in 1–65535 (got {MetricsPort}).");
        foreach (var seed in SeedNodes)
            if (!seed.StartsWith("akka.tcp://", StringComparison.Ordinal) && !seed.StartsWith("akka.ssl.tcp://", StringComparison.Ordinal))
                errors.Add($"Node:SeedNodes entry '{seed}' is not an address such as akka.tcp://{ClusterSettings.SystemName}@10.0.0.5:4053.");
        if ((Tls.Certificate is null) != (Tls.Ca is null)) errors.Add("Node:Tls:Certificate and Node:Tls:Ca go together: give both or neither.");
        foreach (var file in new[] { Tls.Certificate, Tls.Ca })
            if (file is not null && !File.Exists(file)) errors.Add($"{file}: TLS file not found (Node:Tls).");
        return errors;
    }

    public TlsSettings? TlsSettings => Tls.Certificate is null || Tls.Ca is null ? null
        : new TlsSettings(Tls.Certificate, Tls.Password ?? Environment.GetEnvironmentVariable(TlsSettings.PasswordVariable) ?? "", Tls.Ca);

    public ClusterSettings ToClusterSettings(string role) =>
        new(role, Hostname, Port, SeedNodes, MaximumFrameSize, Tls: TlsSettings, PublicHostname: PublicHostname,
            DataPort: DataPlane ? DataPort : null, HealthPort: HealthPort);
}

/// <summary>
/// Where node settings come from, later sources winning: appsettings.json beside the program,
/// appsettings.json in the working folder, environment variables prefixed DISTRIBUTED_ (e.g.
/// DISTRIBUTED_Node__Port=4053, DISTRIBUTED_Node__SeedNodes__0=akka.tcp://…), then command-line
/// options actually given.
/// </summary>
public static class NodeConfiguration
{
    public const string EnvironmentPrefix = "DISTRIBUTED_";

    /// <summary>The settings actually given on a command line, keyed like Node:Port (options not given are left out).</summary>
    public static Dictionary<string, string?> Given(params (string Key, object? Value)[] settings) =>
        settings.Where(s => s.Value is not null && s.Value is not "")
            .ToDictionary(s => s.Key, s => Convert.ToString(s.Value, System.Globalization.CultureInfo.InvariantCulture));

    /// <param name="defaults">The program's own defaults (lowest precedence).</param>
    /// <param name="commandLine">Settings given on the command line (highest precedence), keyed like Node:Port.</param>
    public static NodeOptions Load(IReadOnlyDictionary<string, string?> defaults, IReadOnlyDictionary<string, string?> commandLine, string? workingFolder = null)
    {
        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(defaults)
                .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
                .AddJsonFile(Path.Combine(workingFolder ?? Environment.CurrentDirectory, "appsettings.json"), optional: true)
                .AddEnvironmentVariables(EnvironmentPrefix)
                .AddInMemoryCollection(commandLine)
                .Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new Data.DataFormatException("appsettings.json", $"not valid JSON settings ({e.Message}).");
        }
        var options = new NodeOptions();
        try
        {
            configuration.GetSection("Node").Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"Node settings: {e.Message}");
        }
        return options;
    }
}
