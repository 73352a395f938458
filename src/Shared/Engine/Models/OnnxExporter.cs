using System.Runtime.InteropServices;
using System.Text;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Models;

/// <summary>
/// Writes a trained model as an ONNX model (opset 13): input "input" [batch, inputs] (pixels scaled
/// to [0, 1] as in training), one node per layer in order (dense → Gemm with transB = 1 and weights
/// in PyTorch's [outputs, inputs] layout, relu → Relu, conv → Conv with [out, in, kh, kw] weights,
/// max pool → MaxPool, flatten → Flatten, dropout → Identity), the last layer's output as "logits"
/// and a Softmax giving "probabilities". The flat input is reshaped to NCHW before the first
/// convolution or pool, and an image flattened before a dense layer, as the layers themselves read
/// their rows. <see cref="Nodes"/> is the one place a new layer kind is mapped.
/// The protobuf is encoded here directly: the ModelProto subset needed is a few dozen fields, not
/// worth a generated-code dependency.
/// </summary>
public static class OnnxExporter
{
    private const int FloatType = 1;     // TensorProto.DataType.FLOAT
    private const int Int64Type = 7;     // TensorProto.DataType.INT64
    private const int AttributeInt = 2;  // AttributeProto.AttributeType.INT
    private const int AttributeInts = 7; // AttributeProto.AttributeType.INTS

    public static void Write(string path, Sequential<float> model, int inputs)
    {
        var graph = new Proto();
        string current = "input";
        int width = inputs;
        bool image = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            string name = $"layers.{i}", output = i == model.Layers.Count - 1 ? "logits" : $"{name}.output";
            var layer = model.Layers[i];
            if (!image && InputImage(layer) is { } shape)
            {
                graph.Message(5, Int64Tensor($"{name}.input_shape", [-1, shape.Channels, shape.Height, shape.Width]));
                graph.Message(1, Node("Reshape", $"{name}.reshape", [current, $"{name}.input_shape"], $"{name}.image"));
                (current, image) = ($"{name}.image", true);
            }
            if (image && layer is Dense<float>)
            {
                graph.Message(1, Node("Flatten", $"{name}.flatten", [current], $"{name}.flat", ("axis", 1)));
                (current, image) = ($"{name}.flat", false);
            }
            foreach (var node in Nodes(layer, name, current, output, image)) graph.Message(1, node);
            current = output;
            if (layer is Dense<float> d) width = d.Outputs;
            if (layer is Flatten<float>) image = false;
        }
        if (image) throw new NotSupportedException("A model whose output is an image (it does not end with a dense layer) has no ONNX form here.");
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
    private static IEnumerable<Proto> Nodes(ILayer<float> layer, string name, string input, string output, bool image) => layer switch
    {
        Dense<float> d => [Node("Gemm", name, [input, d.Weight.Name, d.Bias.Name], output, ("transB", 1))],
        Relu<float> => [Node("Relu", name, [input], output)],
        Conv2d<float> c => [Node("Conv", name, [input, c.Weight.Name, c.Bias.Name], output, [],
            ("kernel_shape", [c.Geometry.Kernel, c.Geometry.Kernel]), ("strides", [c.Geometry.Stride, c.Geometry.Stride]),
            ("pads", [c.Geometry.Padding, c.Geometry.Padding, c.Geometry.Padding, c.Geometry.Padding]))],
        MaxPool2d<float> m => [Node("MaxPool", name, [input], output, [], ("kernel_shape", [m.Kernel, m.Kernel]), ("strides", [m.Kernel, m.Kernel]))],
        Flatten<float> => [image ? Node("Flatten", name, [input], output, ("axis", 1)) : Node("Identity", name, [input], output)],
        Dropout<float> => [Node("Identity", name, [input], output)], // inference: dropout passes values through
        _ => throw new NotSupportedException($"{name} ({layer.GetType().Name}) has no ONNX form yet."),
    };

    /// <summary>The image a convolution or pool reads its rows as (null for layers that read flat rows).</summary>
    private static ImageShape? InputImage(ILayer<float> layer) => layer switch
    {
        Conv2d<float> c => c.Geometry.Input,
        MaxPool2d<float> m => m.Input,
        _ => null,
    };

    private static Proto Node(string op, string name, string[] inputs, string output, params (string Name, long Value)[] attributes) =>
        Node(op, name, inputs, output, attributes, []);

    private static Proto Node(string op, string name, string[] inputs, string output, (string Name, long Value)[] attributes, params (string Name, long[] Values)[] lists)
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
        foreach (var (attrName, values) in lists)
        {
            var attribute = new Proto();
            attribute.String(1, attrName);
            foreach (var v in values) attribute.Varint(8, v);
            attribute.Varint(20, AttributeInts);
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

    private static Proto Int64Tensor(string name, long[] values)
    {
        var tensor = new Proto();
        tensor.Varint(1, values.Length);
        tensor.Varint(2, Int64Type);
        tensor.String(8, name);
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
