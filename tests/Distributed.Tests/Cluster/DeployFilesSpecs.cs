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

    /// <summary>
    /// The coordinators' StatefulSet, its seeds and the workers' seeds agree: every pod's stable DNS
    /// name (pod-N.service) is a seed, each pod advertises its own, and checkpoints are on a volume
    /// claimed per pod, not an emptyDir.
    /// </summary>
    [Fact]
    public void The_coordinator_statefulset_should_list_every_pod_as_a_seed_and_keep_checkpoints_on_a_persistent_volume()
    {
        string coordinators = File.ReadAllText(Deploy(Path.Combine("k8s", "coordinator.yaml")));
        Assert.Contains("kind: StatefulSet", coordinators);
        Assert.DoesNotContain("emptyDir", coordinators);
        Assert.Matches(@"volumeClaimTemplates:\s+- metadata:\s+name: runs", coordinators);
        Assert.Contains("{name: PUBLIC_HOSTNAME, value: \"$(POD_NAME).coordinator\"}", coordinators);
        Assert.Contains("publishNotReadyAddresses: true", coordinators);
        int replicas = int.Parse(Regex.Match(coordinators, @"replicas: (\d+)").Groups[1].Value);
        string service = Regex.Match(coordinators, @"serviceName: (\S+)").Groups[1].Value;
        string seeds = string.Join(",", Enumerable.Range(0, replicas).Select(i => $"coordinator-{i}.{service}:4053"));
        Assert.True(replicas >= 2, "a standby needs a second replica");
        Assert.Contains($"{{name: COORDINATORS, value: \"{seeds}\"}}", coordinators);
        Assert.Contains($"{{name: COORDINATOR, value: \"{seeds}\"}}", File.ReadAllText(Deploy(Path.Combine("k8s", "workers.yaml"))));
    }

    /// <summary>
    /// What a container runs, without Docker: the entry point against the Release build (laid out as
    /// the image lays it out), a coordinator given COORDINATORS (so --elect, seeds from the list; the
    /// second address has nobody, as when the other pod is down) and a worker given the list as
    /// COORDINATOR. The coordinator leads and the run finishes.
    /// </summary>
    [Fact]
    public void The_entrypoint_should_run_an_elected_coordinator_and_a_worker_from_lists_of_coordinators()
    {
        var app = Directory.CreateTempSubdirectory("app-").FullName;
        Process? coordinator = null, worker = null;
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(app, "coordinator"), Path.GetDirectoryName(ChildNode.Dll("Coordinator"))!);
            Directory.CreateSymbolicLink(Path.Combine(app, "worker"), Path.GetDirectoryName(ChildNode.Dll("Worker"))!);
            Directory.CreateDirectory(Path.Combine(app, "data"));
            Directory.CreateSymbolicLink(Path.Combine(app, "data", "mnist"), RepositoryRoot.BundledData);
            int[] ports = FreePorts.Take(4);
            string list = $"127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}";
            var common = new Dictionary<string, string> { ["APP"] = app, ["PUBLIC_HOSTNAME"] = "127.0.0.1" };
            coordinator = Entrypoint("coordinator", new(common)
            {
                ["PORT"] = ports[0].ToString(), ["DATA_PORT"] = "0", ["HEALTH_PORT"] = ports[2].ToString(), ["MIN_WORKERS"] = "1",
                ["OUT"] = Path.Combine(app, "out"), ["TRAIN_ARGS"] = "--epochs 1 --train-limit 512 --test-limit 100", ["COORDINATORS"] = list,
            });
            worker = Entrypoint("worker", new(common) { ["PORT"] = "0", ["HEALTH_PORT"] = ports[3].ToString(), ["COORDINATOR"] = list, ["THREADS"] = "1" });
            Assert.True(coordinator.WaitForExit(TimeSpan.FromMinutes(2)), "the coordinator did not finish");
            string output = coordinator.StandardOutput.ReadToEnd() + coordinator.StandardError.ReadToEnd();
            Assert.True(coordinator.ExitCode == 0, output);
            Assert.Contains($"joining akka.tcp://distributed@127.0.0.1:{ports[0]}, akka.tcp://distributed@127.0.0.1:{ports[1]}", output);
            Assert.Contains("leading the run as term 1", output);
            Assert.True(File.Exists(Path.Combine(app, "out", "metrics.json")));
            Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(30)), "the worker did not leave");
        }
        finally
        {
            foreach (var node in new[] { coordinator, worker })
                if (node is { HasExited: false }) node.Kill(entireProcessTree: true);
            // The links first, on their own: a recursive delete must not reach the build or the data.
            foreach (var link in new[] { "coordinator", "worker", Path.Combine("data", "mnist") })
                if (Directory.Exists(Path.Combine(app, link))) Directory.Delete(Path.Combine(app, link));
            Directory.Delete(app, true);
        }
    }

    private static Process Entrypoint(string role, Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("sh", [Deploy("entrypoint.sh"), role]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        return Process.Start(psi)!;
    }

}
