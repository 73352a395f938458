using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Losses;

/// <summary>
/// A loss of a batch of predictions against targets (one sample per row). <see cref="Backward"/>
/// gives the gradients with respect to both inputs; returned matrices are buffers owned by the loss.
/// </summary>
public interface ILoss<T> where T : struct, IFloatingPointIeee754<T>
{
    T Forward(Matrix<T> input, Matrix<T> target);

    (Matrix<T> InputGradient, Matrix<T> TargetGradient) Backward();
}
