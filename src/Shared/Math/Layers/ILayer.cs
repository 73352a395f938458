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
    /// Given dL/d(output), sets parameter gradients and returns dL/d(input) (null when not wanted).
    /// With <paramref name="segments"/> (row boundaries, ascending from 0 to the row count), parameter
    /// gradients are summed segment by segment and the segment sums added in order, so a batch of
    /// several shards gets the same bits as its shards computed apart and added in shard order.
    /// </summary>
    Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, int[]? segments = null);

    /// <summary>
    /// A copy that shares this layer's parameter values but has its own gradients and buffers, so
    /// replicas can run forward and backward on different samples at the same time.
    /// </summary>
    ILayer<T> ReplicaSharingValues();

    /// <summary>Parameters in their fixed order (for Dense: weight, then bias).</summary>
    IReadOnlyList<Parameter<T>> Parameters { get; }
}
