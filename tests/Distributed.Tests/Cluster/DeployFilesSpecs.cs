using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Distributed.Tests.Cluster;

/// <summary>What can be checked of the container files without a Docker engine or a Kubernetes cluster.</summary>
public class DeployFilesSpecs
{
    private static string Deploy(string file) => Path.Combine(RepositoryRoot.Path, "deploy", file);

    [Fact]
    public void The_entrypoint_should_be_valid_shell_and_refuse_an_unknown_role()
    {
        var syntax = Process.Start(new ProcessStartInfo("sh", ["-n", Deploy("entrypoint.sh")]) { RedirectStandardError = true })!;
        syntax.WaitForExit();
        Assert.Equal(0, syntax.ExitCode);

        var psi = new ProcessStartInfo("sh", [Deploy("entrypoint.sh"), "gardener"]) { RedirectStandardError = true };
        psi.Environment["PUBLIC_HOSTNAME"] = "127.0.0.1";
        using var wrong = Process.Start(psi)!;
        string error = wrong.StandardError.ReadToEnd();
        wrong.WaitForExit();
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("usage: entrypoint.sh coordinator|worker", error);
    }

    [Fact]
    public void Everything_the_Dockerfile_copies_should_exist()
    {
        foreach (Match m in Regex.Matches(File.ReadAllText(Deploy("Dockerfile")), @"^COPY (?!--from)(.+) \S+$", RegexOptions.Multiline))
            foreach (var source in m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                Assert.True(File.Exists(Path.Combine(RepositoryRoot.Path, source)) || Directory.Exists(Path.Combine(RepositoryRoot.Path, source)), $"{source} is missing");
    }

    [Fact]
    public void Compose_and_kubernetes_files_should_use_only_settings_the_entrypoint_reads()
    {
        string entrypoint = File.ReadAllText(Deploy("entrypoint.sh"));
        var files = new[] { Deploy("docker-compose.yml"), Deploy(Path.Combine("k8s", "coordinator.yaml")), Deploy(Path.Combine("k8s", "workers.yaml")) };
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            var names = Regex.Matches(text, @"(?:name: |^\s+)([A-Z][A-Z_]+)(?:,|:)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).Distinct().ToList();
            Assert.NotEmpty(names);
            foreach (var name in names) Assert.Contains("${" + name, entrypoint);
        }
    }
}
