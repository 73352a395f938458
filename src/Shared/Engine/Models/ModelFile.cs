using Distributed.Shared.Data;
using Distributed.Shared.Layers;

namespace Distributed.Shared.Models;

/// <summary>
/// A trained MLP from a model.safetensors written by <c>train</c>: the architecture is read from the
/// tensors themselves (layers.{2i}.weight of shape [outputs, inputs] and layers.{2i}.bias), checked
/// to chain, and the weights loaded.
/// </summary>
public static class ModelFile
{
    public sealed record Architecture(int Inputs, IReadOnlyList<int> Hidden, int Outputs)
    {
        public override string ToString() => Mlp.Describe(Inputs, Hidden, Outputs);
    }

    public static (Sequential<float> Model, Architecture Architecture) Load(string path)
    {
        var tensors = SafeTensorsFile.Read(path).ToDictionary(t => t.Name);
        var widths = new List<int>();
        int layer = 0;
        while (tensors.TryGetValue($"layers.{layer}.weight", out var weight))
        {
            if (weight.Shape.Length != 2)
                throw new DataFormatException(path, $"tensor layers.{layer}.weight has {weight.Shape.Length} dimensions, expected 2 ([outputs, inputs]).");
            if (widths.Count == 0) widths.Add(weight.Shape[1]);
            else if (weight.Shape[1] != widths[^1])
                throw new DataFormatException(path, $"tensor layers.{layer}.weight takes {weight.Shape[1]} inputs but the layer before gives {widths[^1]}.");
            widths.Add(weight.Shape[0]);
            layer += 2;
        }
        if (widths.Count < 2)
            throw new DataFormatException(path, $"no layers.0.weight tensor: not a model written by this program (tensors: {string.Join(", ", tensors.Keys.Take(5))}).");
        var architecture = new Architecture(widths[0], widths.Skip(1).SkipLast(1).ToArray(), widths[^1]);
        var model = Mlp.Create<float>(architecture.Inputs, architecture.Hidden, architecture.Outputs, seed: 0);
        SafeTensorsFile.LoadInto(path, model);
        return (model, architecture);
    }
}
