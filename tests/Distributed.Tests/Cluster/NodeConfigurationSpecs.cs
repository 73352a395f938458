using Distributed.Shared.Cluster;
using Distributed.Shared.Data;

namespace Distributed.Tests.Cluster;

public class NodeConfigurationSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("config-").FullName;

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("DISTRIBUTED_Node__Port", null);
        Environment.SetEnvironmentVariable("DISTRIBUTED_Node__SeedNodes__0", null);
        Directory.Delete(_folder, true);
    }

    private void Settings(string json) => File.WriteAllText(Path.Combine(_folder, "appsettings.json"), json);

    private static readonly Dictionary<string, string?> None = [];

    [Fact]
    public void Command_line_beats_environment_beats_appsettings_beats_defaults()
    {
        var defaults = new Dictionary<string, string?> { ["Node:Port"] = "4053", ["Node:Hostname"] = "10.0.0.1" };
        Assert.Equal(4053, NodeConfiguration.Load(defaults, None, _folder).Port);

        Settings("""{ "Node": { "Port": 5000, "MaximumFrameSize": 5000000, "SeedNodes": ["akka.tcp://distributed@10.0.0.5:4053"] } }""");
        var fromFile = NodeConfiguration.Load(defaults, None, _folder);
        Assert.Equal((5000, 5_000_000, "10.0.0.1"), (fromFile.Port, fromFile.MaximumFrameSize, fromFile.Hostname));
        Assert.Equal(["akka.tcp://distributed@10.0.0.5:4053"], fromFile.SeedNodes);

        Environment.SetEnvironmentVariable("DISTRIBUTED_Node__Port", "6000");
        Assert.Equal(6000, NodeConfiguration.Load(defaults, None, _folder).Port);

        var cli = new Dictionary<string, string?> { ["Node:Port"] = "7000" };
        var options = NodeConfiguration.Load(defaults, cli, _folder);
        Assert.Equal(7000, options.Port);
        var cluster = options.ToClusterSettings(Roles.Worker);
        Assert.Equal((7000, 5_000_000, "10.0.0.1"), (cluster.Port, cluster.MaximumFrameSize, cluster.Hostname));
    }

    [Fact]
    public void Invalid_settings_should_be_reported_by_their_configuration_names()
    {
        Settings("""{ "Node": { "Port": 70000, "MaximumFrameSize": 1000, "SeedNodes": ["10.0.0.5:4053"], "Tls": { "Certificate": "/nope.pfx" } } }""");
        var errors = NodeConfiguration.Load(None, None, _folder).Validate();
        Assert.Contains("Node:Port must be in 0–65535 (got 70000).", errors);
        Assert.Contains("Node:MaximumFrameSize must be at least 32000 bytes (got 1000).", errors);
        Assert.Contains(errors, e => e.Contains("Node:SeedNodes entry '10.0.0.5:4053' is not an address"));
        Assert.Contains(errors, e => e.Contains("Node:Tls:Certificate and Node:Tls:Ca go together"));
    }

    [Fact]
    public void A_malformed_settings_file_should_be_named()
    {
        Settings("{ \"Node\": { \"Port\": ");
        var ex = Assert.Throws<DataFormatException>(() => NodeConfiguration.Load(None, None, _folder));
        Assert.Contains("appsettings.json", ex.Message);
    }

    [Fact]
    public void A_worker_without_a_seed_node_should_say_how_to_give_one()
    {
        var error = new StringWriter();
        int code = Distributed.Worker.Program.Run(new Dictionary<string, string?>(), null, 1, "w", new StringWriter(), error);
        Assert.Equal(1, code);
        Assert.Contains("--coordinator host:port", error.ToString());
    }
}
