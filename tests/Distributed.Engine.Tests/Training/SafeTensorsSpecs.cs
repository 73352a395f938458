using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using Distributed.Shared.Data;
using Distributed.Shared.Layers;
using Distributed.Shared.Models;
using Distributed.Shared.Training;

namespace Distributed.Tests.Training;

public class SafeTensorsSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("st-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    [Fact]
    public void File_should_follow_the_safetensors_layout_with_pytorch_shapes()
    {
        var model = Mlp.Create<float>(5, [3], 2, seed: 1);
        string path = Path.Combine(_folder, "m.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), new Dictionary<string, string> { ["format"] = "pt" });

        // Parse by hand, as numpy would: u64 header length, JSON header, then raw little-endian floats.
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, headerLength % 8);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var weight = header.RootElement.GetProperty("layers.0.weight");
        Assert.Equal("F32", weight.GetProperty("dtype").GetString());
        Assert.Equal([3, 5], weight.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("pt", header.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        var offsets = weight.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int data = 8 + (int)headerLength;
        // PyTorch weight[out=1, in=2] is our W[in=2, out=1].
        float stored = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + offsets[0] + 4 * (1 * 5 + 2)));
        Assert.Equal(model.Parameters[0].Value[2, 1], stored);
        Assert.Equal(data + 4 * model.ParameterCount, bytes.Length);
    }

    [Fact]
    public void Loading_should_restore_every_parameter_and_check_shapes()
    {
        var model = Mlp.Create<float>(6, [4], 3, seed: 1);
        string path = Path.Combine(_folder, "m.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model));
        var other = Mlp.Create<float>(6, [4], 3, seed: 2);
        SafeTensorsFile.LoadInto(path, other);
        Assert.Equal(model.FlattenValues(), other.FlattenValues());

        var ex = Assert.Throws<DataFormatException>(() => SafeTensorsFile.LoadInto(path, Mlp.Create<float>(6, [5], 3, seed: 1)));
        Assert.Contains("layers.0.weight has shape [4, 6], the model expects [5, 6]", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_safetensors_should_be_refused_clearly()
    {
        string path = Path.Combine(_folder, "bad.safetensors");
        File.WriteAllText(path, "this is not a model file at all");
        var ex = Assert.Throws<DataFormatException>(() => SafeTensorsFile.Read(path));
        Assert.Contains("bad.safetensors", ex.Message);
    }

    [Fact]
    public void Weights_hash_should_be_sha256_of_little_endian_float32()
    {
        float[] w = [1f, -2.5f, 3e-8f];
        var bytes = new byte[12];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), w[i]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), WeightsHash.Sha256(w));
    }

    [Fact]
    public void The_READMEs_PyTorch_module_should_have_exactly_the_files_tensor_names_and_shapes()
    {
        // The names PyTorch gives the README's module: self.layers = Sequential(...) numbers its
        // children 0, 1, 2, ...; each Linear(in, out) holds layers.i.weight [out, in] and layers.i.bias [out].
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md"));
        var sequential = System.Text.RegularExpressions.Regex.Match(readme, @"self\.layers = Sequential\((.*)\)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(sequential.Success, "the README's snippet no longer assigns self.layers = Sequential(...)");
        Assert.Contains("model.load_state_dict(safetensors.torch.load_file(", readme);
        var children = System.Text.RegularExpressions.Regex.Matches(sequential.Groups[1].Value, @"(Linear)\((\d+),\s*(\d+)\)|(ReLU)\(\)");
        var expected = new Dictionary<string, int[]>();
        for (int i = 0; i < children.Count; i++)
        {
            if (children[i].Groups[4].Success) continue;
            int inputs = int.Parse(children[i].Groups[2].Value), outputs = int.Parse(children[i].Groups[3].Value);
            expected[$"layers.{i}.weight"] = [outputs, inputs];
            expected[$"layers.{i}.bias"] = [outputs];
        }

        var model = Mlp.Create<float>(784, [256, 128], 10, seed: 1);
        string path = Path.Combine(_folder, "default.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes)));
        var actual = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
            .ToDictionary(p => p.Name, p => p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, actual[name]);
    }

    [Fact]
    public void A_model_file_should_carry_its_description_so_any_stack_loads_back()
    {
        // Not an MLP: two dense layers in a row, which the tensors alone could not tell.
        var description = ModelDescription.Parse(6, "dense5,relu,dense4,dense3");
        var model = description.Build<float>(seed: 3);
        string path = Path.Combine(_folder, "described.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), ModelFile.Metadata(description));

        var (loaded, read) = ModelFile.Load(path);
        Assert.Equal(description, read);
        Assert.Equal(model.FlattenValues(), loaded.FlattenValues());
        var x = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(2, 6, (i, j) => i - j * 0.5f);
        Assert.Equal(model.Forward(x).ToColumnMajorArray(), loaded.Forward(x).ToColumnMajorArray());
    }

    [Fact]
    public void A_model_file_without_a_description_should_load_as_the_mlp_its_tensors_chain_into()
    {
        var model = Mlp.Create<float>(6, [5, 4], 3, seed: 3);
        string path = Path.Combine(_folder, "legacy.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), new Dictionary<string, string> { ["format"] = "pt" });
        var (loaded, read) = ModelFile.Load(path);
        Assert.Equal(ModelDescription.Mlp(6, [5, 4], 3), read);
        Assert.Equal(model.FlattenValues(), loaded.FlattenValues());
    }

    [Theory]
    [InlineData("dense16384,relu,dense16384,relu,dense16384,relu,dense10", "has 537,","file holds 47")]
    [InlineData("dense4,conv3", "'conv3': a convolution is conv<channels>k<kernel>", null)]
    [InlineData("dense4,sigmoid", "'sigmoid' is not a layer", null)]
    public void A_description_that_does_not_fit_the_file_should_be_refused_before_anything_is_built(string layers, string expected, string? also)
    {
        var model = Mlp.Create<float>(6, [5], 2, seed: 3);
        string path = Path.Combine(_folder, "lying.safetensors");
        SafeTensorsFile.Write(path, SafeTensorsFile.FromModel(model), new Dictionary<string, string> { [ModelFile.InputsKey] = "6", [ModelFile.LayersKey] = layers });
        var e = Assert.Throws<DataFormatException>(() => ModelFile.Load(path));
        Assert.Contains(expected, e.Message);
        if (also is not null) Assert.Contains(also, e.Message);
    }
}
