using System.Numerics;
using Distributed.Shared.Layers;
using Distributed.Shared.Numerics;

namespace Distributed.Shared.Training;

/// <summary>
/// Sums shard gradient sums in the order they are added (callers add in shard order), then turns
/// the total into the batch's mean gradient: g = (((s₀ + s₁) + s₂) + …) / B. Flat vectors follow the
/// model's parameter order. Float addition is not associative, so this order is part of the result.
/// </summary>
public sealed class GradientAccumulator(int length)
{
    private readonly float[] _total = new float[length];
    private int _added;

    public int Length => _total.Length;

    public int ShardsAdded => _added;

    /// <summary>The running total (valid once something was added).</summary>
    public ReadOnlySpan<float> Total => _total;

    public void Reset() => _added = 0;

    /// <summary>Adds a flat shard gradient sum (as received from a worker).</summary>
    public void Add(ReadOnlySpan<float> shardSum)
    {
        if (shardSum.Length != _total.Length)
            throw new ArgumentException($"A shard gradient has {shardSum.Length} values, expected {_total.Length}.");
        AddAt(0, shardSum);
        _added++;
    }

    /// <summary>Adds the shard gradient sum held in a model's parameter gradients (single-process path).</summary>
    public void Add(Sequential<float> model)
    {
        int offset = 0;
        foreach (var p in model.Parameters)
        {
            AddAt(offset, p.Gradient.Values());
            offset += p.Count;
        }
        _added++;
    }

    private void AddAt(int offset, ReadOnlySpan<float> shard)
    {
        var total = _total.AsSpan(offset, shard.Length);
        if (_added == 0)
        {
            shard.CopyTo(total);
            return;
        }
        // Element-wise, so any split between cores gives the same bits.
        unsafe
        {
            fixed (float* t = total, g = shard)
            {
                var (tp, gp) = ((nint)t, (nint)g);
                var chunks = CoreTeam.Chunks(shard.Length);
                CoreTeam.For(chunks.Length, c => Add(new Span<float>((float*)tp + chunks[c].Start, chunks[c].Length), new ReadOnlySpan<float>((float*)gp + chunks[c].Start, chunks[c].Length)));
            }
        }
    }

    // total_k += shard_k
    private static void Add(Span<float> total, ReadOnlySpan<float> shard)
    {
        int k = 0;
        for (; k <= shard.Length - Vector<float>.Count; k += Vector<float>.Count)
            (new Vector<float>(total[k..]) + new Vector<float>(shard[k..])).CopyTo(total[k..]);
        for (; k < shard.Length; k++) total[k] += shard[k];
    }

    /// <summary>Writes g = total / batchSize into the model's parameter gradients.</summary>
    public void WriteMeanTo(Sequential<float> model, int batchSize)
    {
        if (_added == 0) throw new InvalidOperationException("No shard gradient was added.");
        WriteMean(_total, batchSize, model);
    }

    /// <summary>Writes g = total / batchSize into the model's parameter gradients, from a sum held elsewhere (a peer exchange's reduced gradient).</summary>
    public static void WriteMean(ReadOnlySpan<float> total, int batchSize, Sequential<float> model)
    {
        if (total.Length != model.ParameterCount) throw new ArgumentException($"A gradient of {total.Length} values for a model of {model.ParameterCount}.");
        int offset = 0;
        foreach (var p in model.Parameters)
        {
            Divide(total.Slice(offset, p.Count), batchSize, p.Gradient.Values());
            offset += p.Count;
        }
    }

    /// <summary>Writes g = total / batchSize into a flat vector.</summary>
    public void WriteMeanTo(Span<float> mean, int batchSize)
    {
        if (_added == 0) throw new InvalidOperationException("No shard gradient was added.");
        Divide(_total, batchSize, mean);
    }

    /// <summary>Divides the model's gradients (a sum over the batch) by the batch size in place: the same operation as <see cref="WriteMeanTo(Sequential{float}, int)"/>.</summary>
    public static void DivideInPlace(Sequential<float> model, int batchSize)
    {
        foreach (var p in model.Parameters)
        {
            var g = p.Gradient.Values();
            Divide(g, batchSize, g);
        }
    }

    // g_k = total_k / B, split between the cores (element-wise, so the same bits however it is split).
    private static unsafe void Divide(ReadOnlySpan<float> total, int batchSize, Span<float> result)
    {
        fixed (float* t = total, r = result)
        {
            var (tp, rp) = ((nint)t, (nint)r);
            var chunks = CoreTeam.Chunks(total.Length);
            CoreTeam.For(chunks.Length, c => DivideRange(new ReadOnlySpan<float>((float*)tp + chunks[c].Start, chunks[c].Length), batchSize,
                new Span<float>((float*)rp + chunks[c].Start, chunks[c].Length)));
        }
    }

    // g_k = total_k / B (a true division, exactly rounded in every lane and in the scalar tail alike)
    private static void DivideRange(ReadOnlySpan<float> total, int batchSize, Span<float> result)
    {
        float b = batchSize;
        var vb = new Vector<float>(b);
        int k = 0;
        for (; k <= total.Length - Vector<float>.Count; k += Vector<float>.Count)
            (new Vector<float>(total[k..]) / vb).CopyTo(result[k..]);
        for (; k < total.Length; k++) result[k] = total[k] / b;
    }
}
