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

    /// <summary>Most bytes of data one file may make this program hold (MNIST's training images are 47 MB): a larger header is refused before anything is allocated.</summary>
    public const long MaxDataBytes = 1L << 28;

    /// <summary>Images: count × rows × columns bytes (only the first <paramref name="limit"/> images read, when given).</summary>
    public static (byte[] Pixels, int Count, int Rows, int Columns) ReadImages(string path, int? limit = null)
    {
        var (dims, data) = Read(path, ImagesMagic, "images", limit);
        return (data, data.Length / (dims[1] * dims[2]), dims[1], dims[2]);
    }

    /// <summary>Labels: one byte per sample, each checked to lie in [0, <paramref name="classes"/>) (only the first <paramref name="limit"/>, when given).</summary>
    public static byte[] ReadLabels(string path, int classes = 10, int? limit = null)
    {
        var (_, data) = Read(path, LabelsMagic, "labels", limit);
        for (int i = 0; i < data.Length; i++)
            if (data[i] >= classes)
                throw new DataFormatException(path, $"label {i} is {data[i]}, expected 0–{classes - 1}.");
        return data;
    }

    private static (int[] Dimensions, byte[] Data) Read(string path, int expectedMagic, string kind, int? limit)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found.");
        // A FIFO or device reports length 0, and opening one could block forever: refuse before opening.
        long length = new FileInfo(path).Length;
        if (length == 0) throw new DataFormatException(path, "empty, or not a regular file (a FIFO or device).");
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(stream, path, expectedMagic, kind, limit, gzip ? null : length);
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
    /// <param name="limit">Items (first dimension) wanted: only those are read, so a huge or endless (gzip bomb) file costs no more.</param>
    /// <param name="fileLength">The raw file's length (null for gzip): the header's sizes must fit it.</param>
    private static (int[] Dimensions, byte[] Data) Read(Stream stream, string path, int expectedMagic, string kind, int? limit, long? fileLength)
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
        if (fileLength is { } raw && count > raw - headerLength)
            throw new DataFormatException(path, $"truncated: header promises {count} bytes of data ({string.Join('×', dims)}), file has {raw - headerLength}.");
        long wanted = limit is { } items && items < dims[0] ? count / dims[0] * items : count;
        if (wanted > MaxDataBytes)
            throw new DataFormatException(path, $"header promises {wanted:N0} bytes of data ({string.Join('×', dims)}), more than this program loads ({MaxDataBytes:N0}); use --train-limit/--test-limit or smaller files.");
        var data = new byte[wanted];
        long actual = ReadAtMost(stream, data);
        if (actual < wanted) throw new DataFormatException(path, $"truncated: header promises {count} bytes of data ({string.Join('×', dims)}), file has {actual}.");
        // With a limit the rest is never read (nor decompressed).
        if (wanted < count) return (dims, data);
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
