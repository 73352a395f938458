namespace Distributed.Shared.Data;

/// <summary>The training and test splits of an MNIST-format data set.</summary>
public sealed record MnistData(ImageSet Train, ImageSet Test, IReadOnlyList<string> VerifiedFiles, string Folder);

/// <summary>
/// Loads the four MNIST files from a folder, each raw or gzipped (.gz preferred when both exist),
/// checks them against the folder's SHA256SUMS when there is one, and checks that the splits agree.
/// </summary>
public static class MnistLoader
{
    public static readonly string[] BaseNames =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    public static MnistData Load(string folder, int? trainLimit = null, int? testLimit = null)
    {
        if (!Directory.Exists(folder))
            throw new DataFormatException(folder, "data folder not found.");
        var paths = BaseNames.Select(name => Locate(folder, name)).ToArray();
        var verified = Checksums.Verify(folder, paths);
        var train = LoadSplit(paths[0], paths[1], trainLimit).Take(trainLimit);
        var test = LoadSplit(paths[2], paths[3], testLimit).Take(testLimit);
        if (train.Rows != test.Rows || train.Columns != test.Columns)
            throw new DataFormatException(paths[2], $"test images are {test.Rows}×{test.Columns} but training images are {train.Rows}×{train.Columns}.");
        return new MnistData(train, test, verified, folder);
    }

    // Only the first `limit` images and labels are read: a limit also bounds what a huge or hostile file costs.
    private static ImageSet LoadSplit(string imagesPath, string labelsPath, int? limit)
    {
        var (pixels, count, rows, columns) = IdxReader.ReadImages(imagesPath, limit);
        var labels = IdxReader.ReadLabels(labelsPath, limit: limit);
        if (labels.Length != count)
            throw new DataFormatException(labelsPath, $"{labels.Length} labels, but {Path.GetFileName(imagesPath)} has {count} images.");
        return new ImageSet(pixels, labels, rows, columns);
    }

    private static string Locate(string folder, string baseName)
    {
        foreach (var candidate in new[] { baseName + ".gz", baseName })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new DataFormatException(Path.Combine(folder, baseName), $"file not found (looked for {baseName}.gz and {baseName}).");
    }
}
