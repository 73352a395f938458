using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Distributed.Shared.Protocol;

/// <summary>How a tensor's numbers are written on the wire.</summary>
public enum TensorWire : byte
{
    /// <summary>IEEE float32, bit for bit: the exact mode.</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16 (float32's sign, exponent and top 7 mantissa bits, rounded to nearest even): half the
    /// bytes, about 3 significant digits. Not exact: weights and gradients are rounded in transit, and
    /// a piece's sum is rounded once where its shards apart would be rounded each, so results also
    /// depend on how shards were grouped. Opt-in (--wire bf16).
    /// </summary>
    BFloat16 = 1,
}

/// <summary>float32 ⇄ bfloat16 conversion (vectorised; integer arithmetic, so every path gives the same bits).</summary>
public static class BFloat16
{
    // bf16 = the float's top 16 bits, rounded to nearest even (add 0x7FFF plus the lowest kept bit);
    // a NaN keeps its sign and stays a (quiet) NaN instead of rounding up into infinity.
    public static void Encode(ReadOnlySpan<float> values, Span<ushort> into)
    {
        if (into.Length < values.Length) throw new ArgumentException("The output is shorter than the input.", nameof(into));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bias = Vector256.Create(0x7FFFu);
            var one = Vector256.Create(1u);
            var absMask = Vector256.Create(0x7FFFFFFFu);
            var infinity = Vector256.Create(0x7F800000u);
            var quiet = Vector256.Create(0x40u);
            var source = MemoryMarshal.Cast<float, uint>(values);
            for (; i <= values.Length - 16; i += 16)
            {
                var lo = Round(Vector256.Create(source.Slice(i, 8)));
                var hi = Round(Vector256.Create(source.Slice(i + 8, 8)));
                Vector256.Narrow(lo, hi).CopyTo(into.Slice(i, 16));
            }

            Vector256<uint> Round(Vector256<uint> bits)
            {
                var rounded = Vector256.ShiftRightLogical(bits + bias + (Vector256.ShiftRightLogical(bits, 16) & one), 16);
                var nan = Vector256.GreaterThan(bits & absMask, infinity);
                return Vector256.ConditionalSelect(nan, Vector256.ShiftRightLogical(bits, 16) | quiet, rounded);
            }
        }
        for (; i < values.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(values[i]);
            into[i] = (bits & 0x7FFFFFFFu) > 0x7F800000u ? (ushort)((bits >> 16) | 0x40) : (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
        }
    }

    // float32 = the bf16 bits followed by 16 zero bits (exact).
    public static void Decode(ReadOnlySpan<ushort> values, Span<float> into)
    {
        if (into.Length < values.Length) throw new ArgumentException("The output is shorter than the input.", nameof(into));
        int i = 0;
        var target = MemoryMarshal.Cast<float, uint>(into);
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= values.Length - 16; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(values.Slice(i, 16)));
                Vector256.ShiftLeft(lo, 16).CopyTo(target.Slice(i, 8));
                Vector256.ShiftLeft(hi, 16).CopyTo(target.Slice(i + 8, 8));
            }
        }
        for (; i < values.Length; i++) target[i] = (uint)values[i] << 16;
    }
}
