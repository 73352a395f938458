namespace Distributed.Shared.Numerics;

/// <summary>
/// A small, fast, seedable generator (xoshiro256**, seeded by SplitMix64) whose whole state is four
/// ulongs, so a run can save it and resume bit-for-bit. System.Random's state cannot be saved.
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>A generator for one purpose of a run (e.g. the shuffle of epoch 3), independent of the others.</summary>
    public static SeededRandom For(int seed, string purpose, long index = 0)
    {
        // FNV-1a over the purpose, then mixed with seed and index
        ulong x = Fnv1a(purpose) ^ ((ulong)(uint)seed << 32) ^ (ulong)index;
        return new SeededRandom(SplitMix(ref x));
    }

    /// <summary>64-bit FNV-1a of <paramref name="text"/>'s UTF-16 code units: a fixed key for a name (a purpose, a layer).</summary>
    public static ulong Fnv1a(string text)
    {
        ulong h = 1469598103934665603UL;
        foreach (char ch in text) h = (h ^ ch) * 1099511628211UL;
        return h;
    }

    public ulong[] State => [_s0, _s1, _s2, _s3];

    public static SeededRandom FromState(ulong[] state)
    {
        if (state.Length != 4 || state.All(s => s == 0)) throw new ArgumentException("A generator state is four ulongs, not all zero.");
        return new SeededRandom(0) { _s0 = state[0], _s1 = state[1], _s2 = state[2], _s3 = state[3] };
    }

    public ulong NextULong()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ulong bound = (ulong)n;
        while (true)
        {
            UInt128 product = (UInt128)NextULong() * bound;
            ulong low = (ulong)product;
            if (low >= bound || low >= (0UL - bound) % bound) return (int)(product >> 64);
        }
    }

    /// <summary>Standard normal sample (Box–Muller; the second value is discarded to keep the state simple).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>In-place Fisher–Yates shuffle.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
