using System.Runtime.InteropServices;
using System.Text;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Models;

/// <summary>
/// Writes a trained model as an ONNX model (opset 13): input "input" [batch, inputs] (pixels scaled
/// to [0, 1] as in training), one node per layer in order (dense → Gemm with transB = 1 and weights
/// in PyTorch's [outputs, inputs] layout, relu → Relu), the last layer's output as "logits" and a
/// Softmax giving "probabilities". <see cref="Nodes"/> is the one place a new layer kind is mapped.
/// The protobuf is encoded here directly: the ModelProto subset needed is a few dozen fields, not
/// worth a generated-code dependency.
/// </summary>
public static class OnnxExporter
{
    private const int FloatType = 1;     // TensorProto.DataType.FLOAT
    private const int AttributeInt = 2;  // AttributeProto.AttributeType.INT

    public static void Write(string path, Sequential<float> model, int inputs)
    {
        var graph = new Proto();
        string current = "input";
        int width = inputs;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            string output = i == model.Layers.Count - 1 ? "logits" : $"layers.{i}.output";
            foreach (var node in Nodes(model.Layers[i], $"layers.{i}", current, output)) graph.Message(1, node);
            current = output;
            if (model.Layers[i] is Dense<float> d) width = d.Outputs;
        }
        if (current != "logits") throw new ArgumentException("A model with no layers cannot be exported.", nameof(model));
        graph.Message(1, Node("Softmax", "softmax", [current], "probabilities", ("axis", 1)));
        graph.String(2, "model");
        foreach (var p in model.Parameters) graph.Message(5, Tensor(p.Name, [.. p.Shape.Select(d => (long)d)], p.Value.Values()));
        graph.Message(11, ValueInfo("input", inputs));
        graph.Message(12, ValueInfo("probabilities", width));
        graph.Message(12, ValueInfo("logits", width));

        var modelProto = new Proto();
        modelProto.Varint(1, 8);                       // ir_version
        modelProto.String(2, "Distributed");           // producer_name
        modelProto.String(3, "1");                     // producer_version
        modelProto.Message(7, graph);
        var opset = new Proto();
        opset.String(1, "");
        opset.Varint(2, 13);
        modelProto.Message(8, opset);                  // opset_import
        File.WriteAllBytes(path, modelProto.ToArray());
    }

    /// <summary>The ONNX nodes computing one layer from <paramref name="input"/> into <paramref name="output"/>.</summary>
    private static IEnumerable<Proto> Nodes(ILayer<float> layer, string name, string input, string output) => layer switch
    {
        Dense<float> d => [Node("Gemm", name, [input, d.Weight.Name, d.Bias.Name], output, ("transB", 1))],
        Relu<float> => [Node("Relu", name, [input], output)],
        _ => throw new NotSupportedException($"{name} ({layer.GetType().Name}) has no ONNX form yet."),
    };

    private static Proto Node(string op, string name, string[] inputs, string output, params (string Name, long Value)[] attributes)
    {
        var node = new Proto();
        foreach (var input in inputs) node.String(1, input);
        node.String(2, output);
        node.String(3, name);
        node.String(4, op);
        foreach (var (attrName, value) in attributes)
        {
            var attribute = new Proto();
            attribute.String(1, attrName);
            attribute.Varint(3, value);
            attribute.Varint(20, AttributeInt);
            node.Message(5, attribute);
        }
        return node;
    }

    private static Proto Tensor(string name, long[] dims, float[] values)
    {
        var tensor = new Proto();
        foreach (var d in dims) tensor.Varint(1, d);
        tensor.Varint(2, FloatType);
        tensor.String(8, name);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian.");
        tensor.Bytes(9, MemoryMarshal.AsBytes(values.AsSpan()));
        return tensor;
    }

    // [batch, width] float tensor, with a symbolic batch dimension.
    private static Proto ValueInfo(string name, int width)
    {
        var shape = new Proto();
        var batch = new Proto();
        batch.String(2, "batch");
        shape.Message(1, batch);
        var features = new Proto();
        features.Varint(1, width);
        shape.Message(1, features);
        var tensorType = new Proto();
        tensorType.Varint(1, FloatType);
        tensorType.Message(2, shape);
        var type = new Proto();
        type.Message(1, tensorType);
        var info = new Proto();
        info.String(1, name);
        info.Message(2, type);
        return info;
    }

    /// <summary>Protocol-buffers wire format: varint (type 0) and length-delimited (type 2) fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public void Varint(int field, long value)
        {
            Tag(field, 0);
            Raw((ulong)value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
        }

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void Tag(int field, int wireType) => Raw((ulong)(field << 3 | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
