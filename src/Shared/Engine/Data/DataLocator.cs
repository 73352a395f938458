namespace Distributed.Shared.Data;

/// <summary>Finds the bundled data/mnist folder when the user gives no --data.</summary>
public static class DataLocator
{
    public const string BundledRelative = "data/mnist";

    /// <summary>data/mnist under the working folder or any parent of it or of the program's folder.</summary>
    public static string DefaultFolder()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, BundledRelative);
                if (Directory.Exists(candidate)) return candidate;
            }
        return Path.GetFullPath(BundledRelative);
    }
}
