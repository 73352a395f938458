using System.Numerics;
using Distributed.Shared.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Distributed.Shared.Layers;

/// <summary>
/// Inverted dropout (PyTorch's <c>nn.Dropout(p)</c>): in training each value is zeroed with
/// probability p and the rest scaled by 1/(1 − p); in inference values pass through. The mask is
/// not drawn from a stream but computed from a counter, keyed by (seed, step, sample, layer,
/// element) — see <see cref="Keep"/> — so it does not depend on which worker, thread or shard
/// computes a sample, and a resumed run draws the masks it would have drawn.
/// </summary>
public sealed class Dropout<T> : ILayer<T> where T : struct, IFloatingPointIeee754<T>
{
    private Matrix<T>? _output, _inputGradient;
    private T[] _mask = [];
    private bool _masked;

    /// <param name="salt">Tells this layer's masks from other dropout layers' (its position in the model).</param>
    public Dropout(double rate, ulong salt)
    {
        if (!(rate is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "a dropout rate is in [0, 1).");
        (Rate, Salt) = (rate, salt);
    }

    public double Rate { get; }

    public ulong Salt { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; } = [];

    public ILayer<T> ReplicaSharingValues() => new Dropout<T>(Rate, Salt);

    /// <summary>Inference: y = x.</summary>
    public Matrix<T> Forward(Matrix<T> input) => Forward(input, null);

    // y = x ⊙ m / (1 − p), m[n, j] = Keep(seed, step, sample[n], salt, j)
    public Matrix<T> Forward(Matrix<T> input, ForwardContext? context)
    {
        _masked = context is not null && Rate > 0;
        var y = MatrixStorage.Reuse(ref _output, input.RowCount, input.ColumnCount);
        if (!_masked)
        {
            input.CopyTo(y);
            return y;
        }
        if (context!.Samples.Length != input.RowCount)
            throw new ArgumentException($"dropout: the context names {context.Samples.Length} samples for a batch of {input.RowCount} rows.");
        int rows = input.RowCount, n = input.RowCount * input.ColumnCount;
        if (_mask.Length != n) _mask = new T[n];
        T scale = T.One / (T.One - T.CreateTruncating(Rate));
        Span<ulong> keys = rows <= 1024 ? stackalloc ulong[rows] : new ulong[rows];
        for (int r = 0; r < rows; r++) keys[r] = Mix(Mix(Mix((ulong)(uint)context.Seed) ^ (ulong)context.Step) ^ (ulong)(uint)context.Samples[r]) ^ Salt;
        // Column by column: the mask is written in storage order (row by row would stride by the batch size),
        // and a column's rows are hashed a vector at a time.
        var threshold = new System.Numerics.Vector<ulong>(KeepThreshold(Rate));
        int lanes = System.Numerics.Vector<ulong>.Count;
        for (int j = 0; j < input.ColumnCount; j++)
        {
            var element = new System.Numerics.Vector<ulong>((ulong)(uint)j * Golden);
            int r = 0;
            if (typeof(T) == typeof(float))
            {
                // Two vectors of 64-bit verdicts narrowed to one of 32-bit lanes, selecting scale or 0 for a float vector of the mask.
                var mask = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(_mask.AsSpan(j * rows, rows));
                var (keep, drop) = (new System.Numerics.Vector<float>(float.CreateTruncating(scale)), System.Numerics.Vector<float>.Zero);
                for (; r <= rows - 2 * lanes; r += 2 * lanes)
                {
                    var low = Kept(keys[r..], element, threshold);
                    var high = Kept(keys[(r + lanes)..], element, threshold);
                    var kept = System.Numerics.Vector.AsVectorInt32(System.Numerics.Vector.Narrow(low, high));
                    System.Numerics.Vector.ConditionalSelect(kept, keep, drop).CopyTo(mask[r..]);
                }
            }
            for (; r < rows; r++) _mask[r + j * rows] = Keep(keys[r], j, Rate) ? scale : T.Zero;
        }
        Span<T> x = input.Values(), yv = y.Values();
        for (int i = 0; i < n; i++) yv[i] = x[i] * _mask[i];
        return y;
    }

    // dx = g ⊙ m / (1 − p), the mask of the forward pass (or g in inference)
    public Matrix<T>? Backward(Matrix<T> outputGradient, bool needInputGradient = true, GradientSink<T>? gradients = null)
    {
        if (_output is null) throw new InvalidOperationException("dropout: Backward before Forward.");
        if (!needInputGradient) return null;
        var dx = MatrixStorage.Reuse(ref _inputGradient, outputGradient.RowCount, outputGradient.ColumnCount);
        if (!_masked)
        {
            outputGradient.CopyTo(dx);
            return dx;
        }
        Span<T> g = outputGradient.Values(), d = dx.Values();
        for (int i = 0; i < d.Length; i++) d[i] = g[i] * _mask[i];
        return dx;
    }

    /// <summary>
    /// Whether element <paramref name="element"/> of a sample (keyed by <paramref name="sampleKey"/>)
    /// survives: u = 53 bits of Mix(key ⊕ element) as a fraction of 1, kept when u ≥ p.
    /// </summary>
    public static bool Keep(ulong sampleKey, int element, double rate) =>
        (Mix(sampleKey ^ (ulong)(uint)element * Golden) >> 11) * (1.0 / (1UL << 53)) >= rate;

    // All ones in the lanes whose element survives: (Mix(key ⊕ element) ≫ 11) ≥ threshold.
    private static System.Numerics.Vector<ulong> Kept(ReadOnlySpan<ulong> keys, System.Numerics.Vector<ulong> element, System.Numerics.Vector<ulong> threshold) =>
        System.Numerics.Vector.GreaterThanOrEqual(System.Numerics.Vector.ShiftRightLogical(Mix(new System.Numerics.Vector<ulong>(keys) ^ element), 11), threshold);

    /// <summary>
    /// u ≥ p in integers: (h ≫ 11) ≥ ⌈p·2⁵³⌉. Exact, since h ≫ 11 is an integer below 2⁵³ and p·2⁵³
    /// only moves p's exponent; the vector path uses it and so keeps exactly what <see cref="Keep"/> keeps.
    /// </summary>
    private static ulong KeepThreshold(double rate) => (ulong)Math.Ceiling(rate * (1UL << 53));

    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    // SplitMix64's finaliser: a bijection on 64 bits whose output bits each depend on every input bit.
    private static ulong Mix(ulong z)
    {
        z += Golden;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // The same finaliser, lane by lane.
    private static System.Numerics.Vector<ulong> Mix(System.Numerics.Vector<ulong> z)
    {
        z += new System.Numerics.Vector<ulong>(Golden);
        z = (z ^ System.Numerics.Vector.ShiftRightLogical(z, 30)) * new System.Numerics.Vector<ulong>(0xBF58476D1CE4E5B9UL);
        z = (z ^ System.Numerics.Vector.ShiftRightLogical(z, 27)) * new System.Numerics.Vector<ulong>(0x94D049BB133111EBUL);
        return z ^ System.Numerics.Vector.ShiftRightLogical(z, 31);
    }
}
