using System.Buffers.Binary;
using System.IO.Compression;

namespace Distributed.Tests.Data;

/// <summary>Writes small IDX files for tests, in a temporary folder that is deleted afterwards.</summary>
public sealed class IdxFiles : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("idx-").FullName;

    public static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Images(int count, int rows = 28, int columns = 28) =>
        Idx(0x0803, [count, rows, columns], Enumerable.Range(0, count * rows * columns).Select(i => (byte)(i % 251)).ToArray());

    public static byte[] Labels(params byte[] labels) => Idx(0x0801, [labels.Length], labels);

    public string Write(string name, byte[] bytes, bool gzip = false)
    {
        string path = Path.Combine(Folder, gzip ? name + ".gz" : name);
        if (gzip)
        {
            using var file = File.Create(path);
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        else File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A complete, valid small data set: 4 training and 3 test images.</summary>
    public void WriteValidSet(bool gzip = false)
    {
        Write("train-images-idx3-ubyte", Images(4), gzip);
        Write("train-labels-idx1-ubyte", Labels(1, 2, 3, 9), gzip);
        Write("t10k-images-idx3-ubyte", Images(3), gzip);
        Write("t10k-labels-idx1-ubyte", Labels(0, 7, 4), gzip);
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
