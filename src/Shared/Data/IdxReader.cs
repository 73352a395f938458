using System.Buffers.Binary;
using System.IO.Compression;

namespace Distributed.Shared.Data;

/// <summary>
/// Reads IDX files (LeCun's MNIST format), raw or gzipped: a big-endian header of magic
/// (0x00 0x00, type 0x08 = unsigned byte, number of dimensions), one int32 per dimension, then the data.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x0803; // unsigned bytes, 3 dimensions
    public const int LabelsMagic = 0x0801; // unsigned bytes, 1 dimension

    /// <summary>Images: count × rows × columns bytes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Columns) ReadImages(string path)
    {
        var (dims, data) = Read(path, ImagesMagic, "images");
        return (data, dims[0], dims[1], dims[2]);
    }

    /// <summary>Labels: one byte per sample, each checked to lie in [0, <paramref name="classes"/>).</summary>
    public static byte[] ReadLabels(string path, int classes = 10)
    {
        var (_, data) = Read(path, LabelsMagic, "labels");
        for (int i = 0; i < data.Length; i++)
            if (data[i] >= classes)
                throw new DataFormatException(path, $"label {i} is {data[i]}, expected 0–{classes - 1}.");
        return data;
    }

    private static (int[] Dimensions, byte[] Data) Read(string path, int expectedMagic, string kind)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found.");
        byte[] bytes;
        try
        {
            bytes = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? Gunzip(path) : File.ReadAllBytes(path);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"corrupt gzip data ({e.Message}).");
        }
        catch (IOException e)
        {
            throw new DataFormatException(path, $"cannot be read ({e.Message}).");
        }

        if (bytes.Length < 4) throw new DataFormatException(path, $"only {bytes.Length} bytes; an IDX header needs at least 4.");
        int magic = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (magic != expectedMagic)
            throw new DataFormatException(path, $"magic number is {magic} (0x{magic:X8}), expected {expectedMagic} for IDX {kind} (unsigned bytes, {expectedMagic & 0xFF} dimension(s)).");
        int rank = magic & 0xFF;
        int headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength) throw new DataFormatException(path, $"truncated header: {bytes.Length} bytes, expected {headerLength}.");
        var dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (dims[d] <= 0) throw new DataFormatException(path, $"dimension {d} is {dims[d]}, expected a positive size.");
            count *= dims[d];
        }
        long actual = bytes.Length - headerLength;
        if (actual < count) throw new DataFormatException(path, $"truncated: header promises {count} bytes of data ({string.Join('×', dims)}), file has {actual}.");
        if (actual > count) throw new DataFormatException(path, $"{actual - count} unexpected bytes after the {count} bytes of data the header describes.");
        return (dims, bytes[headerLength..]);
    }

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
}
