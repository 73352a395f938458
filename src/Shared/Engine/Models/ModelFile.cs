using Distributed.Shared.Data;
using Distributed.Shared.Layers;

namespace Distributed.Shared.Models;

/// <summary>
/// A trained model from a model.safetensors written by <c>train</c>. The model's description is in
/// the file's metadata (<see cref="InputsKey"/>, <see cref="LayersKey"/>); a file without it (written
/// before descriptions, or by hand) is read as an MLP whose widths come from its tensors
/// (layers.{2i}.weight of shape [outputs, inputs], checked to chain). Either way every tensor's name
/// and shape is checked against the model before the weights are loaded.
/// </summary>
public static class ModelFile
{
    /// <summary>Metadata keys: values per sample, and the layers in the model-description syntax.</summary>
    public const string InputsKey = "inputs", LayersKey = "layers";

    /// <summary>The metadata that lets <see cref="Load"/> rebuild <paramref name="model"/>.</summary>
    public static IReadOnlyDictionary<string, string> Metadata(ModelDescription model) => new Dictionary<string, string>
    {
        [InputsKey] = model.Inputs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [LayersKey] = model.LayersText,
    };

    public static (Sequential<float> Model, ModelDescription Description) Load(string path)
    {
        var (tensors, metadata) = SafeTensorsFile.ReadWithMetadata(path);
        var description = Described(path, metadata) ?? InferredMlp(path, tensors.ToDictionary(t => t.Name));
        // Checked before building: a description may not make us allocate more than the file holds.
        long held = tensors.Sum(t => (long)t.Values.Length);
        if (description.ParameterCount != held)
            throw new DataFormatException(path, $"the model {description} has {description.ParameterCount:N0} parameters but the file holds {held:N0} values.");
        var model = description.Build<float>(seed: 0);
        SafeTensorsFile.LoadInto(path, model);
        return (model, description);
    }

    private static ModelDescription? Described(string path, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(LayersKey, out var layers)) return null;
        if (!metadata.TryGetValue(InputsKey, out var text) || !int.TryParse(text, out int inputs) || inputs is < 1 or > 1 << 20)
            throw new DataFormatException(path, $"metadata '{InputsKey}' is missing or not a width in 1–{1 << 20}.");
        try
        {
            return ModelDescription.Parse(inputs, layers);
        }
        catch (FormatException e)
        {
            throw new DataFormatException(path, $"metadata '{LayersKey}' is not a model description: {e.Message}");
        }
    }

    private static ModelDescription InferredMlp(string path, IReadOnlyDictionary<string, NamedTensor> tensors)
    {
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
        return ModelDescription.Mlp(widths[0], widths.Skip(1).SkipLast(1).ToArray(), widths[^1]);
    }
}
