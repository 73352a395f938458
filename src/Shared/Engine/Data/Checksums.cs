using System.Security.Cryptography;

namespace Distributed.Shared.Data;

/// <summary>Verifies files against a <c>SHA256SUMS</c> file (sha256sum's format: "hash  name" or "hash *name").</summary>
public static class Checksums
{
    public const string FileName = "SHA256SUMS";

    /// <summary>
    /// If the folder has a SHA256SUMS, checks each of <paramref name="files"/> that it lists and
    /// returns their names; a mismatch is an error naming the file and both hashes.
    /// </summary>
    public static IReadOnlyList<string> Verify(string folder, IEnumerable<string> files)
    {
        string sumsPath = Path.Combine(folder, FileName);
        if (!File.Exists(sumsPath)) return [];
        var expected = Parse(sumsPath);
        var verified = new List<string>();
        foreach (var file in files)
        {
            string name = Path.GetFileName(file);
            if (!expected.TryGetValue(name, out var hash)) continue;
            string actual = Sha256Hex(file);
            if (!string.Equals(actual, hash, StringComparison.OrdinalIgnoreCase))
                throw new DataFormatException(file, $"SHA-256 is {actual}, but {sumsPath} expects {hash}: the file is corrupt or not the one listed.");
            verified.Add(name);
        }
        return verified;
    }

    public static string Sha256Hex(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static Dictionary<string, string> Parse(string sumsPath)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(sumsPath))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.IndexOf(' ');
            if (space != 64 || !line[..64].All(Uri.IsHexDigit))
                throw new DataFormatException(sumsPath, $"line {lineNumber} is not \"<64 hex digits>  <file name>\".");
            result[line[(space + 1)..].TrimStart(' ', '*')] = line[..64];
        }
        return result;
    }
}
