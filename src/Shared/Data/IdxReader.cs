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
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(stream, path, expectedMagic, kind);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"corrupt gzip data ({e.Message}).");
        }
        catch (IOException e)
        {
            throw new DataFormatException(path, $"cannot be read ({e.Message}).");
        }
    }

    // Streams straight into an array of the size the header gives: the data is held once, not three
    // times over (a growing buffer, its copy, the slice after the header), which set a worker's peak memory.
    private static (int[] Dimensions, byte[] Data) Read(Stream stream, string path, int expectedMagic, string kind)
    {
        var head = new byte[4];
        int got = ReadAtMost(stream, head);
        if (got < 4) throw new DataFormatException(path, $"only {got} bytes; an IDX header needs at least 4.");
        int magic = BinaryPrimitives.ReadInt32BigEndian(head);
        if (magic != expectedMagic)
            throw new DataFormatException(path, $"magic number is {magic} (0x{magic:X8}), expected {expectedMagic} for IDX {kind} (unsigned bytes, {expectedMagic & 0xFF} dimension(s)).");
        int rank = magic & 0xFF;
        int headerLength = 4 + 4 * rank;
        var dimBytes = new byte[4 * rank];
        got = ReadAtMost(stream, dimBytes);
        if (got < dimBytes.Length) throw new DataFormatException(path, $"truncated header: {4 + got} bytes, expected {headerLength}.");
        var dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * d));
            if (dims[d] <= 0) throw new DataFormatException(path, $"dimension {d} is {dims[d]}, expected a positive size.");
            count *= dims[d];
        }
        if (count > Array.MaxLength) throw new DataFormatException(path, $"header promises {count} bytes of data ({string.Join('×', dims)}), more than one array holds.");
        var data = new byte[count];
        long actual = ReadAtMost(stream, data);
        if (actual < count) throw new DataFormatException(path, $"truncated: header promises {count} bytes of data ({string.Join('×', dims)}), file has {actual}.");
        long extra = 0;
        var rest = new byte[4096];
        for (int n; (n = stream.Read(rest)) > 0;) extra += n;
        if (extra > 0) throw new DataFormatException(path, $"{extra} unexpected bytes after the {count} bytes of data the header describes.");
        return (dims, data);
    }

    /// <summary>Reads until the span is full or the stream ends; returns the bytes read.</summary>
    private static int ReadAtMost(Stream stream, Span<byte> into)
    {
        int total = 0;
        for (int n; total < into.Length && (n = stream.Read(into[total..])) > 0;) total += n;
        return total;
    }
}
