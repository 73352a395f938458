namespace Distributed.Shared.Data;

/// <summary>A data file that is missing or not what it should be; the message names the file and the problem.</summary>
public sealed class DataFormatException(string path, string problem) : Exception($"{path}: {problem}")
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
