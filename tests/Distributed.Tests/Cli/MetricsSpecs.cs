using System.Net;
using System.Net.Sockets;
using Distributed.Shared.Diagnostics;

namespace Distributed.Tests.Cli;

public class MetricsSpecs
{

    [Fact]
    public async Task Training_metrics_should_be_served_for_prometheus()
    {
        int port = FreePorts.One();
        using var provider = TrainingMetrics.StartPrometheus(port);
        Distributed.Shared.Training.StepMetrics.Step(128, 64.0, 1.5);
        TrainingMetrics.MembersUp(3);
        using var http = new HttpClient();
        string text = await http.GetStringAsync($"http://localhost:{port}/metrics");
        Assert.Contains("distributed_steps_total", text);
        Assert.Contains("distributed_samples_total", text);
        Assert.Contains("distributed_step_duration_milliseconds", text);
        Assert.Contains("distributed_members_up", text);
        Assert.Contains("distributed_sent_bytes_total", text);
        Assert.Contains("distributed_received_bytes_total", text);
        Assert.Matches(@"distributed_loss(_ratio)?\{[^}]*\} 0\.5|distributed_loss 0\.5", text);
    }
}
