using Distributed.Shared.Data;

namespace Distributed.Tests.Cluster;

/// <summary>Small subsets of the bundled MNIST for actor and cluster specs (loaded once).</summary>
public static class TestData
{
    private static readonly Lazy<MnistData> Full = new(() => MnistLoader.Load(RepositoryRoot.BundledData));

    public static MnistData Subset(int train, int test) =>
        Full.Value with { Train = Full.Value.Train.Take(train), Test = Full.Value.Test.Take(test) };
}
