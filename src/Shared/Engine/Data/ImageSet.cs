namespace Distributed.Shared.Data;

/// <summary>
/// Labelled images kept as bytes (60k MNIST images stay ~47 MB); scaled to [0, 1] only when a batch
/// is built. Image i's pixels are bytes [i·PixelsPerImage, (i+1)·PixelsPerImage), row by row.
/// </summary>
public sealed class ImageSet
{
    public ImageSet(byte[] pixels, byte[] labels, int rows, int columns, int classes = 10)
    {
        if (labels.Length == 0) throw new ArgumentException("An image set needs at least one image.");
        if (pixels.Length != (long)labels.Length * rows * columns)
            throw new ArgumentException($"{pixels.Length} pixel bytes do not make {labels.Length} images of {rows}×{columns}.");
        (Pixels, Labels, Rows, Columns, Classes) = (pixels, labels, rows, columns, classes);
    }

    public byte[] Pixels { get; }

    public byte[] Labels { get; }

    public int Rows { get; }

    public int Columns { get; }

    public int Classes { get; }

    public int Count => Labels.Length;

    public int PixelsPerImage => Rows * Columns;

    private readonly Dictionary<int, string> _fingerprints = [];

    /// <summary>
    /// SHA-256 over the first <paramref name="count"/> images' pixels and labels: what a worker checks
    /// to be sure its copy of the data is the coordinator's (computed once per count).
    /// </summary>
    public string Fingerprint(int count)
    {
        if (count <= 0 || count > Count) throw new ArgumentOutOfRangeException(nameof(count), $"{count} of {Count} images");
        lock (_fingerprints)
        {
            if (_fingerprints.TryGetValue(count, out var known)) return known;
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            sha.AppendData(Pixels, 0, count * PixelsPerImage);
            sha.AppendData(Labels, 0, count);
            return _fingerprints[count] = Convert.ToHexStringLower(sha.GetHashAndReset());
        }
    }

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);

    /// <summary>The first <paramref name="count"/> images (the whole set when count is null or larger).</summary>
    public ImageSet Take(int? count)
    {
        if (count is null || count >= Count) return this;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count.Value);
        return new ImageSet(Pixels[..(count.Value * PixelsPerImage)], Labels[..count.Value], Rows, Columns, Classes);
    }
}
