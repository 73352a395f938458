using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distributed.Shared.Data;
using Distributed.Shared.Optimizers;

namespace Distributed.Shared.Training;

/// <summary>
/// Checkpoints on disk. Layout: the 8 bytes "DSTCKPT1", a little-endian int32 length and a UTF-8
/// JSON header (position, options, metrics, tensor lengths), the tensors as raw little-endian
/// float32 (weights, then optimizer slots), and finally the SHA-256 of everything before it. Written
/// atomically: to a temporary file, flushed to disk, then renamed over the latest checkpoint, whose
/// predecessor is kept as <see cref="PreviousName"/>. A file whose checksum or layout is wrong is
/// refused with the reason; nothing already saved is touched.
/// </summary>
public static class CheckpointFile
{
    public const string LatestName = "checkpoint.bin";
    public const string PreviousName = "checkpoint.previous.bin";
    private static readonly byte[] Magic = "DSTCKPT1"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private sealed record Header(int Format, TrainingOptions Options, int TrainSamples, string DataFingerprint, long Step, int Epoch, int Batch,
        double EpochLossSum, long EpochCorrect, EpochMetrics[] Epochs, string OptimizerKind, long OptimizerSteps, int WeightCount, int[] SlotLengths, DateTime CreatedUtc);

    /// <summary>Writes the checkpoint into <paramref name="folder"/> atomically; returns its path.</summary>
    public static string Save(string folder, Checkpoint c) =>
        Save(folder, c, path => new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None));

    /// <summary>As <see cref="Save(string, Checkpoint)"/>, writing the temporary file through <paramref name="create"/> (specs pass a failing disk).</summary>
    public static string Save(string folder, Checkpoint c, Func<string, Stream> create)
    {
        Directory.CreateDirectory(folder);
        string latest = Path.Combine(folder, LatestName);
        string temporary = latest + ".tmp";
        var json = HeaderOf(c);
        try
        {
            WriteFile(create(temporary), json, c);
        }
        catch
        {
            // A full disk must not keep the partial file: it would hold the space the next write needs.
            TryDelete(temporary);
            throw;
        }
        if (File.Exists(latest)) File.Move(latest, Path.Combine(folder, PreviousName), overwrite: true);
        File.Move(temporary, latest);
        return latest;
    }

    private static byte[] HeaderOf(Checkpoint c) => JsonSerializer.SerializeToUtf8Bytes(new Header(1, c.Options, c.TrainSamples, c.DataFingerprint, c.Step, c.Epoch, c.Batch,
        c.EpochLossSum, c.EpochCorrect, c.Epochs.ToArray(), c.Optimizer.Kind, c.Optimizer.Steps, c.Weights.Length, c.Optimizer.Slots.Select(s => s.Length).ToArray(), c.CreatedUtc), Json);

    /// <summary>The checkpoint in the file layout, in memory: what a standby coordinator is sent (<see cref="Parse"/> reads it back).</summary>
    public static byte[] ToBytes(Checkpoint c)
    {
        var memory = new MemoryStream();
        WriteFile(memory, HeaderOf(c), c, leaveOpen: true);
        return memory.ToArray();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void WriteFile(Stream stream, byte[] json, Checkpoint c, bool leaveOpen = false)
    {
        using (var owned = leaveOpen ? null : stream)
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            void Put(ReadOnlySpan<byte> bytes)
            {
                stream.Write(bytes);
                sha.AppendData(bytes);
            }
            Put(Magic);
            Put(BitConverter.GetBytes(json.Length));
            Put(json);
            Put(MemoryMarshal.AsBytes(c.Weights.AsSpan()));
            foreach (var slot in c.Optimizer.Slots) Put(MemoryMarshal.AsBytes(slot.AsSpan()));
            stream.Write(sha.GetHashAndReset());
            if (stream is FileStream fs) fs.Flush(flushToDisk: true);
            else stream.Flush();
        }
    }

    /// <summary>The checkpoint to resume from in a folder: the latest, or the previous one if the latest was never completed.</summary>
    /// <summary>Whether the folder holds a checkpoint to resume from (the latest or the previous one).</summary>
    public static bool Exists(string folder) => File.Exists(Path.Combine(folder, LatestName)) || File.Exists(Path.Combine(folder, PreviousName));

    public static string Locate(string folder)
    {
        foreach (var name in new[] { LatestName, PreviousName })
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        throw new DataFormatException(folder, $"no checkpoint to resume from (looked for {LatestName} and {PreviousName}).");
    }

    /// <summary>
    /// The folder's latest checkpoint; if it is corrupt (a crash or a full disk mid-rename, a damaged
    /// disk), the previous one, with <paramref name="note"/> told why.
    /// </summary>
    public static (Checkpoint Checkpoint, string Path) LoadLatestGood(string folder, Action<string> note)
    {
        string path = Locate(folder);
        string previous = Path.Combine(folder, PreviousName);
        try
        {
            return (Load(path), path);
        }
        catch (DataFormatException e) when (Path.GetFileName(path) == LatestName && File.Exists(previous))
        {
            note($"{e.Message} Resuming from the previous checkpoint, {previous}, instead.");
            return (Load(previous), previous);
        }
    }

    /// <summary>No checkpoint of any model this program trains comes near this (the default MLP's is 2.8 MB).</summary>
    public const long MaxBytes = 1L << 30;

    public static Checkpoint Load(string path)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "checkpoint not found.");
        var info = new FileInfo(path);
        // A FIFO or device reports length 0, and reading it could block forever: refuse before opening.
        if (info.Length == 0) throw new DataFormatException(path, "empty, or not a regular file (a FIFO or device); not a checkpoint.");
        if (info.Length > MaxBytes) throw new DataFormatException(path, $"{info.Length:N0} bytes: larger than any checkpoint this program writes (at most {MaxBytes:N0}).");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot read the checkpoint ({e.Message}).");
        }
        return Parse(bytes, path);
    }

    /// <summary>A checkpoint from its bytes (a file's, or a snapshot sent to a standby); <paramref name="path"/> names the source in errors.</summary>
    public static Checkpoint Parse(byte[] bytes, string path)
    {
        if (bytes.Length < Magic.Length + 4 + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new DataFormatException(path, "not a checkpoint of this program (wrong magic bytes or too short).");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new DataFormatException(path, $"checksum mismatch: the checkpoint is corrupt or truncated ({bytes.Length} bytes). " +
                $"It was not used; the previous checkpoint, if any, is {Path.Combine(Path.GetDirectoryName(path) ?? ".", PreviousName)}.");
        int jsonLength = BitConverter.ToInt32(bytes, Magic.Length);
        int offset = Magic.Length + 4;
        if (jsonLength <= 0 || offset + jsonLength > body.Length) throw new DataFormatException(path, $"header length {jsonLength} does not fit the file.");
        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(body.Slice(offset, jsonLength), Json) ?? throw new JsonException("empty header");
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, $"header is not valid ({e.Message}).");
        }
        if (header.Format != 1) throw new DataFormatException(path, $"checkpoint format {header.Format}; this program reads format 1.");
        if (header.Options is null || header.DataFingerprint is null || header.Epochs is null || header.OptimizerKind is null || header.SlotLengths is null)
            throw new DataFormatException(path, "header is not valid (a required field is missing or null).");
        if (header.Options.Validate() is { Count: > 0 } problems)
            throw new DataFormatException(path, $"the checkpoint's training options are not valid: {string.Join(" ", problems)}");
        offset += jsonLength;
        int bodyLength = body.Length;
        float[] Take(int count)
        {
            if (count < 0 || offset + 4L * count > bodyLength) throw new DataFormatException(path, $"tensor of {count} floats runs past the end of the file.");
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count)).ToArray();
            offset += 4 * count;
            return values;
        }
        var weights = Take(header.WeightCount);
        var slots = header.SlotLengths.Select(Take).ToArray();
        if (offset != bodyLength) throw new DataFormatException(path, $"{bodyLength - offset} unexpected bytes after the tensors.");
        return new Checkpoint(header.Options, header.TrainSamples, header.DataFingerprint, header.Step, header.Epoch, header.Batch,
            header.EpochLossSum, header.EpochCorrect, header.Epochs, weights, new OptimizerState(header.OptimizerKind, header.OptimizerSteps, slots), header.CreatedUtc);
    }
}
