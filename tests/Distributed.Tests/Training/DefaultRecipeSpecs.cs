using Distributed.Coordinator.Training;
using Distributed.Shared.Data;
using Distributed.Shared.Training;

namespace Distributed.Tests.Training;

public class DefaultRecipeSpecs
{
    // The headline claim of the foundation: the default recipe on all of MNIST reaches ≥ 97.8% test
    // accuracy in 3 epochs. It trains the full 60k images (~5 s here), the one full-size run in the suite.
    [Fact]
    public void The_default_recipe_should_reach_97_8_percent_in_three_epochs()
    {
        var data = MnistLoader.Load(RepositoryRoot.BundledData);
        var options = new TrainingOptions();
        Assert.Equal((3, 128), (options.Epochs, options.BatchSize));
        var result = new LocalTrainer(options, data, _ => { }).Run();
        Assert.True(result.Epochs[^1].TestAccuracy >= 0.978, $"test accuracy {result.Epochs[^1].TestAccuracy:P2}");
        Assert.True(result.Epochs[^1].TrainLoss < result.Epochs[0].TrainLoss);
    }
}
