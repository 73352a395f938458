using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using Distributed.Coordinator.Cli;
using Distributed.Shared.Data;

namespace Distributed.Tests.Data;

/// <summary>
/// Data files made to hurt: headers whose sizes overflow or outgrow the file, a gzip bomb under a
/// limit, a FIFO instead of a file, pictures too large or cut short. Each is a one-line
/// <see cref="DataFormatException"/>, found without allocating or waiting for what the file claims.
/// </summary>
public sealed class HostileFileSpecs : IDisposable
{
    private readonly IdxFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static byte[] Header(int magic, params int[] dims) => IdxFiles.Idx(magic, dims, []);

    [Fact]
    public void A_header_whose_dimensions_multiply_past_the_file_should_be_refused_before_allocating()
    {
        // 50000 × 50000 × 50000 overflows 32 bits many times over; 1000 × 1000 × 1000 fits a long but not the file.
        foreach (var dims in new[] { new[] { 50_000, 50_000, 50_000 }, [1000, 1000, 1000] })
        {
            string path = _files.Write("train-images-idx3-ubyte", [.. Header(IdxReader.ImagesMagic, dims), 1, 2, 3]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
            Assert.Contains("header promises", error.Message);
        }
    }

    [Fact]
    public void A_gzip_bomb_should_cost_no_more_than_the_limit_asks_for()
    {
        // 100,000 images of 28×28 (78 MB) of zeros compress to ~80 KB; with a limit of 10 only 7,840 bytes are read.
        string path = Path.Combine(_files.Folder, "bomb-idx3-ubyte.gz");
        using (var file = File.Create(path))
        using (var z = new GZipStream(file, CompressionLevel.Optimal))
        {
            z.Write(Header(IdxReader.ImagesMagic, 100_000, 28, 28));
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 75; i++) z.Write(zeros);
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var (pixels, count, _, _) = IdxReader.ReadImages(path, limit: 10);
        Assert.Equal((10, 7840), (count, pixels.Length));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "read more than the limit");

        // Without a limit the claim is larger than this program loads: refused, not allocated.
        string huge = _files.Write("huge-idx3-ubyte", Header(IdxReader.ImagesMagic, 1_000_000, 28, 28), gzip: true);
        Assert.Contains("more than this program loads", Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(huge)).Message);
    }

    [Fact]
    public async Task A_FIFO_in_place_of_a_data_file_should_be_refused_without_blocking()
    {
        string fifo = Path.Combine(_files.Folder, "train-images-idx3-ubyte");
        using (var mkfifo = Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        var read = Task.Run(() => Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(fifo)));
        var error = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("not a regular file", error.Message);
    }

    private string Png(int width, int height)
    {
        using var bitmap = new SkiaSharp.SKBitmap(width, height);
        bitmap.Erase(SkiaSharp.SKColors.White);
        string path = Path.Combine(_files.Folder, $"p{width}x{height}.png");
        using (var file = File.Create(path)) bitmap.Encode(file, SkiaSharp.SKEncodedImageFormat.Png, 100);
        return path;
    }

    [Fact]
    public void A_truncated_picture_should_be_an_error_not_a_different_digit()
    {
        string path = Png(200, 200);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        var error = Assert.Throws<DataFormatException>(() => PredictCommand.Gray(path, out _, out _));
        Assert.Contains("ends early", error.Message);
    }

    [Fact]
    public void A_picture_whose_header_claims_a_huge_size_should_be_refused_before_decoding()
    {
        // A valid 1×1 PNG whose IHDR claims 60000×60000 (3.6 gigapixels); the CRC is recomputed so the header itself is sound.
        string path = Png(1, 1);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), 60_000);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), 60_000);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
        File.WriteAllBytes(path, bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<DataFormatException>(() => PredictCommand.Gray(path, out _, out _));
        Assert.Contains("60000×60000 pixels, more than this program decodes", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    // PNG's chunk checksum: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
