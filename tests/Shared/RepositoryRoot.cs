namespace Distributed.Tests;

/// <summary>The repository's root folder, found by walking up to Distributed.sln.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    /// <summary>The MNIST copy the repository bundles (data/mnist).</summary>
    public static string BundledData => System.IO.Path.Combine(Path, "data", "mnist");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Distributed.sln"))) return dir.FullName;
        throw new InvalidOperationException("Distributed.sln not found above " + AppContext.BaseDirectory);
    }
}
