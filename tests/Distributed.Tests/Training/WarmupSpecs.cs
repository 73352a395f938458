using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Tests.Training;

public class WarmupSpecs
{
    [Fact]
    public void The_warm_up_should_leave_a_run_exactly_as_it_would_have_been()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData, trainLimit: 512, testLimit: 100);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64, Hidden = [24], TrainLimit = 512, TestLimit = 100 };
        string before = new Distributed.Coordinator.Training.LocalTrainer(options, data, _ => { }, replicas: 2).Run().FinalWeightsSha256;
        Warmup.Run(options, threads: 2);
        string after = new Distributed.Coordinator.Training.LocalTrainer(options, data, _ => { }, replicas: 2).Run().FinalWeightsSha256;
        Assert.Equal(before, after);
    }
}
