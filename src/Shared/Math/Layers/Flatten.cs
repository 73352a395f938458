using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// PyTorch's <c>nn.Flatten</c>: an image row in CHW order already is the flat feature vector a dense
/// layer takes, so this layer moves nothing. It exists so that a model lists the layers a PyTorch
/// <c>nn.Sequential</c> would, with the same positions (and so the same parameter names).
/// </summary>
public sealed class Flatten<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    public IReadOnlyList<Parameter<T>> Parameters { get; } = [];

    public ILayer<T> ReplicaSharingValues() => new Flatten<T>();

    public Matrix<T> Forward(Matrix<T> input) => input;

    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null) =>
        needInputGradient ? outputGradient : null;
}
