using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Models;

/// <summary>A named float32 tensor: shape (row-major) and values.</summary>
public sealed record NamedTensor(string Name, int[] Shape, float[] Values);

/// <summary>
/// The safetensors format (as read by numpy, PyTorch and the safetensors library): an 8-byte
/// little-endian header length, a JSON header mapping names to dtype, shape and byte offsets
/// (padded with spaces to a multiple of 8), then the tensors' bytes, contiguous and without holes.
/// Dense weights are written with shape [outputs, inputs], i.e. PyTorch's Linear.weight layout,
/// which is exactly our column-major inputs×outputs storage.
/// </summary>
public static class SafeTensorsFile
{
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        long offset = 0;
        foreach (var t in list)
        {
            long bytes = 4L * t.Values.Length;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + bytes)),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var t in list) WriteLittleEndian(stream, t.Values);
    }

    public static IReadOnlyList<NamedTensor> Read(string path) => ReadWithMetadata(path).Tensors;

    /// <summary>The tensors and the header's <c>__metadata__</c> strings (empty when there are none).</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadWithMetadata(string path)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "model file not found.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new DataFormatException(path, "too short for a safetensors file (no 8-byte header length).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8)) throw new DataFormatException(path, $"header length {headerLength} exceeds the file's {bytes.Length} bytes: not a safetensors file, or truncated.");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))?.AsObject() ?? throw new JsonException("empty header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new DataFormatException(path, $"header is not a JSON object ({e.Message}).");
        }
        int dataStart = 8 + (int)headerLength;
        var result = new List<NamedTensor>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (key, value) in node as JsonObject ?? [])
                    if (value is JsonValue v && v.TryGetValue<string>(out var text)) metadata[key] = text;
                continue;
            }
            result.Add(ReadTensor(path, name, node, bytes, dataStart));
        }
        return (result, metadata);
    }

    private static NamedTensor ReadTensor(string path, string name, JsonNode? node, byte[] bytes, int dataStart)
    {
        try
        {
            var entry = node!.AsObject();
            string dtype = entry["dtype"]!.GetValue<string>();
            if (dtype != "F32") throw new DataFormatException(path, $"tensor {name} has dtype {dtype}; only F32 is supported.");
            int[] shape = entry["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
            var offsets = entry["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            long count = shape.Aggregate(1L, (a, d) => a * d);
            if (offsets.Length != 2 || offsets[1] - offsets[0] != 4 * count || offsets[0] < 0 || dataStart + offsets[1] > bytes.Length)
                throw new DataFormatException(path, $"tensor {name}: offsets [{string.Join(", ", offsets)}] do not hold {count} float32 values inside the file.");
            var values = new float[count];
            var source = bytes.AsSpan(dataStart + (int)offsets[0], (int)(4 * count));
            if (BitConverter.IsLittleEndian) source.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            else for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
            return new NamedTensor(name, shape, values);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new DataFormatException(path, $"tensor {name} has no valid dtype/shape/data_offsets entry.");
        }
    }

    private static void WriteLittleEndian(Stream stream, float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }
        var buffer = new byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
            stream.Write(buffer);
        }
    }

    /// <summary>The model's parameters as tensors, each with its layer's <see cref="Parameter{T}.Shape"/> (dense weights [outputs, inputs], biases [outputs]).</summary>
    public static IEnumerable<NamedTensor> FromModel(Sequential<float> model) =>
        model.Parameters.Select(p => new NamedTensor(p.Name, p.Shape, p.Value.Values().ToArray()));

    /// <summary>Loads a model's parameters from a file, checking that every name and shape matches.</summary>
    public static void LoadInto(string path, Sequential<float> model)
    {
        var tensors = Read(path).ToDictionary(t => t.Name);
        foreach (var p in model.Parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
                throw new DataFormatException(path, $"tensor {p.Name} is missing (the file has: {string.Join(", ", tensors.Keys)}).");
            var expected = p.Shape;
            if (!t.Shape.SequenceEqual(expected))
                throw new DataFormatException(path, $"tensor {p.Name} has shape [{string.Join(", ", t.Shape)}], the model expects [{string.Join(", ", expected)}].");
            t.Values.CopyTo(p.Value.Values(), 0);
        }
        var extra = tensors.Keys.Except(model.Parameters.Select(p => p.Name)).ToList();
        if (extra.Count > 0) throw new DataFormatException(path, $"tensors not in the model: {string.Join(", ", extra)}.");
    }
}
