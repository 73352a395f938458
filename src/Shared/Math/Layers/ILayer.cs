using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// A differentiable layer on a batch (one sample per row). <see cref="Forward"/> caches what
/// <see cref="Backward"/> needs; Backward overwrites (never accumulates) the parameter gradients.
/// Returned matrices are buffers owned by the layer, valid until its next call.
/// </summary>
public interface ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    Matrix<T> Forward(Matrix<T> input);

    /// <summary>
    /// A training forward pass (see <see cref="ForwardContext"/>); layers without randomness ignore
    /// the context, which is what this default does.
    /// </summary>
    Matrix<T> Forward(Matrix<T> input, ForwardContext? context) => Forward(input);

    /// <summary>
    /// Given dL/d(output), sets parameter gradients and returns dL/d(input) (null when not wanted).
    /// Parameter gradients, sums over the batch's rows, go through <paramref name="gradients"/>
    /// (default: <see cref="GradientSink{T}.WholeBatch"/>), which decides how rows are grouped; the
    /// layer knows nothing of shards.
    /// </summary>
    Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null);

    /// <summary>
    /// A copy that shares this layer's parameter values but has its own gradients and buffers, so
    /// replicas can run forward and backward on different samples at the same time.
    /// </summary>
    ILayer<T> ReplicaSharingValues();

    /// <summary>Parameters in their fixed order (for Dense: weight, then bias).</summary>
    IReadOnlyList<Parameter<T>> Parameters { get; }
}
