using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Distributed.Shared.Numerics;

/// <summary>
/// Row-major single-precision matrix product, C = alpha·op(A)·op(B) + beta·C, with B packed into
/// 16-column panels, A read in place, and a 6×16 AVX2/FMA micro-kernel (Goto/BLIS blocking).
/// </summary>
/// <remarks>
/// Determinism invariant: every element of C is the fused-multiply-add chain over k in increasing
/// order, restarted at each <see cref="KC"/> boundary and added to C as <c>alpha·acc + beta·C</c>.
/// Blocking over m and n and the split between threads never change that order, so the result is
/// the same bits for any thread count; the scalar fallback uses <see cref="MathF.FusedMultiplyAdd"/>
/// in the same order and gives the same bits as the SIMD path.
/// </remarks>
public static class Gemm
{
    public const int MR = 6;
    public const int NR = 16;
    public const int KC = 256;
    public const int MC = 96;
    public const int NC = 512;

    /// <summary>Below this many flops (2·m·n·k) a product runs on the calling thread only.</summary>
    public const long ParallelThresholdFlops = 4_000_000;

    /// <summary>Threads a product may use (1 = calling thread only).</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    [ThreadStatic] private static bool t_serial;

    /// <summary>
    /// Within the returned scope, products started on this thread use this thread only (for callers
    /// that already run one product per core, e.g. shards trained side by side). With
    /// <paramref name="serial"/> false the scope changes nothing.
    /// </summary>
    public static SerialScope SerialOnThisThread(bool serial = true)
    {
        bool previous = t_serial;
        t_serial |= serial;
        return new SerialScope(previous);
    }

    public readonly struct SerialScope(bool previous) : IDisposable
    {
        public void Dispose() => t_serial = previous;
    }

    /// <summary>True when a SIMD micro-kernel runs; tests set it false to exercise the fallback.</summary>
    public static bool UseSimd { get; set; } = SimdAvailable;

    public static bool SimdAvailable => Avx.IsSupported && Fma.IsSupported;

    /// <summary>
    /// With <see cref="UseSimd"/>: the AVX-512 kernel (6 rows × 32 columns, two 512-bit registers per
    /// row) where two whole packed panels remain, instead of the AVX2 one (6 × 16). Same per-element
    /// FMA chain, so the same bits.
    /// </summary>
    public static bool UseAvx512 { get; set; } = Avx512Available && Environment.GetEnvironmentVariable(KernelVariable) is not "avx2";

    /// <summary>Set to "avx2" to keep the AVX2 kernel on a machine with AVX-512 (for comparisons; same bits either way).</summary>
    public const string KernelVariable = "DISTRIBUTED_KERNEL";

    public static bool Avx512Available => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>The micro-kernel in use, as the run's description and metrics name it.</summary>
    public static string KernelName => !UseSimd ? "scalar" : UseAvx512 && Avx512Available ? "AVX-512" : "AVX2/FMA";


    /// <summary>C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C; op(X) is X or Xᵀ; ld* are row strides.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc) =>
        Multiply(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, kSegments: null);

    /// <summary>
    /// As above, with the k-loop restarted at each boundary in <paramref name="kSegments"/> (ascending,
    /// starting at 0 and ending at k): C = Σ_s (alpha·op(A)[:, s]·op(B)[s, :]) added segment by segment
    /// in order, each segment's sum a chain of its own. With segments of at most <see cref="KC"/>, the
    /// result equals computing each segment's product separately (beta 0) and adding them to C in order.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc, int[]? kSegments)
    {
        if (kSegments is not null && (kSegments.Length < 2 || kSegments[0] != 0 || kSegments[^1] != k || kSegments.Zip(kSegments.Skip(1)).Any(p => p.Second < p.First)))
            throw new ArgumentException($"k segments must rise from 0 to k = {k}.", nameof(kSegments));
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return;
        CheckExtent(a, aOffset, lda, transA ? k : m, transA ? m : k, nameof(a));
        CheckExtent(b, bOffset, ldb, transB ? n : k, transB ? k : n, nameof(b));
        CheckExtent(c, cOffset, ldc, m, n, nameof(c));

        var part = new Problem(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, kSegments);
        long flops = 2L * m * n * k;
        int threads = t_serial ? 1 : Math.Min(MaxThreads, CoreTeam.Size);
        if (threads <= 1 || flops < ParallelThresholdFlops)
        {
            part.RunSerial();
            return;
        }
        var parts = part.Split(threads);
        CoreTeam.For(parts.Length, i => parts[i].RunSerial());
    }

    /// <summary>Convenience overload for whole, dense row-major arrays.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, float[] b, float beta, float[] c) =>
        Multiply(transA, transB, m, n, k, alpha, a, 0, transA ? m : k, b, 0, transB ? k : n, beta, c, 0, n);

    private static void CheckExtent(float[] x, int offset, int ld, int rows, int cols, string name)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"Leading dimension {ld} of {name} is smaller than its {cols} columns.", name);
        long last = offset + (long)(rows - 1) * ld + cols;
        if (offset < 0 || last > x.Length)
            throw new ArgumentException($"{name} needs {last} elements from offset {offset} but has {x.Length}.", name);
    }

    /// <summary>One product over a sub-block of C; a thread runs one of these start to end.</summary>
    private readonly record struct Problem(bool TransA, bool TransB, int M, int N, int K, float Alpha,
        float[] A, int AOffset, int Lda, float[] B, int BOffset, int Ldb, float Beta, float[] C, int COffset, int Ldc, int[]? KSegments)
    {
        /// <summary>The k-blocks: KC-sized, restarting at every segment boundary.</summary>
        private List<(int Start, int Length)> KBlocks()
        {
            var bounds = KSegments ?? [0, K];
            var blocks = new List<(int, int)>();
            for (int s = 0; s + 1 < bounds.Length; s++)
                for (int pc = bounds[s]; pc < bounds[s + 1]; pc += KC)
                    blocks.Add((pc, Math.Min(KC, bounds[s + 1] - pc)));
            return blocks;
        }

        /// <summary>
        /// Consecutive k-blocks packed together, at most <see cref="KC"/> rows in all: a segmented
        /// product's short segments then share one packing, and each C tile runs through all of
        /// them while it sits in L1 (instead of a pass over all of C per segment).
        /// </summary>
        private static List<(int First, int Count, int Rows)> Groups(List<(int Start, int Length)> blocks)
        {
            var groups = new List<(int, int, int)>();
            for (int b = 0; b < blocks.Count;)
            {
                int first = b, rows = 0;
                while (b < blocks.Count && rows + blocks[b].Length <= KC) rows += blocks[b++].Length;
                groups.Add((first, b - first, rows));
            }
            return groups;
        }

        /// <summary>
        /// Splits C into disjoint row or column blocks aligned to the micro-tile. Each thread packs its
        /// own copy of the operand that is not split, so split along the dimension that leaves the
        /// smaller operand to be packed twice: rows (A is split, B duplicated) when n &lt; m.
        /// </summary>
        public Problem[] Split(int parts)
        {
            bool byColumns = N >= M;
            int extent = byColumns ? N : M;
            int unit = byColumns ? NR : MR;
            int units = (extent + unit - 1) / unit;
            parts = Math.Max(1, Math.Min(parts, units));
            var result = new Problem[parts];
            int start = 0;
            for (int p = 0; p < parts; p++)
            {
                int myUnits = units / parts + (p < units % parts ? 1 : 0);
                int end = Math.Min(extent, start + myUnits * unit);
                result[p] = byColumns ? Columns(start, end - start) : Rows(start, end - start);
                start = end;
            }
            return result;
        }

        private Problem Columns(int j0, int count) => this with
        {
            N = count,
            BOffset = BOffset + (TransB ? j0 * Ldb : j0),
            COffset = COffset + j0,
        };

        private Problem Rows(int i0, int count) => this with
        {
            M = count,
            AOffset = AOffset + (TransA ? i0 : i0 * Lda),
            COffset = COffset + i0 * Ldc,
        };

        public void RunSerial()
        {
            if (K == 0)
            {
                ScaleC(Beta);
                return;
            }
            var buffers = PackBuffers.ForThisThread();
            int simd = !UseSimd ? 0 : UseAvx512 && Avx512Available ? 2 : 1;
            var blocks = KBlocks();
            var groups = Groups(blocks);
            for (int jc = 0; jc < N; jc += NC)
            {
                int nc = Math.Min(NC, N - jc);
                foreach (var group in groups)
                {
                    PackB(buffers.B, blocks[group.First].Start, group.Rows, jc, nc);
                    for (int ic = 0; ic < M; ic += MC)
                        MacroKernel(buffers, simd, ic, Math.Min(MC, M - ic), jc, nc, blocks, group);
                }
            }
        }

        private void ScaleC(float beta)
        {
            for (int i = 0; i < M; i++)
            {
                var row = C.AsSpan(COffset + i * Ldc, N);
                if (beta == 0f) row.Clear();
                else for (int j = 0; j < N; j++) row[j] *= beta;
            }
        }

        /// <summary>Packs op(B)[pc.., jc..] as NR-column panels, each kc rows of NR values, zero padded.</summary>
        private unsafe void PackB(float[] packed, int pc, int kc, int jc, int nc)
        {
            fixed (float* b = B, dst0 = packed)
            {
                float* dst = dst0;
                for (int jr = 0; jr < nc; jr += NR)
                {
                    int cols = Math.Min(NR, nc - jr);
                    int j = jc + jr;
                    if (!TransB)
                    {
                        // op(B)[p, j..j+NR] is a contiguous run of row p.
                        float* src = b + BOffset + (long)pc * Ldb + j;
                        for (int p = 0; p < kc; p++, dst += NR, src += Ldb)
                        {
                            if (cols == NR) new Span<float>(src, NR).CopyTo(new Span<float>(dst, NR));
                            else for (int c = 0; c < NR; c++) dst[c] = c < cols ? src[c] : 0f;
                        }
                    }
                    else
                    {
                        // op(B)[p, j + c] = B[j + c, p]: NR rows of B read side by side.
                        float* src = b + BOffset + (long)j * Ldb + pc;
                        for (int c = 0; c < NR; c++)
                        {
                            float* row = src + (long)c * Ldb;
                            float* d = dst + c;
                            if (c < cols) for (int p = 0; p < kc; p++) d[p * NR] = row[p];
                            else for (int p = 0; p < kc; p++) d[p * NR] = 0f;
                        }
                        dst += kc * NR;
                    }
                }
            }
        }

        // A is read in place (row r, step p at r·rowStride + p·stepStride): broadcasting six
        // scalars per step from six streams costs the FMA pipes nothing, while packing A was a
        // quarter of a product's time at the MLP's shapes. Only B, reused by every row tile, is packed.
        // Each C tile goes through the group's k-blocks in order, each a chain of its own added to C
        // (the first block of the product with Beta, the rest with 1): the same operations on every
        // element as one pass over C per block, with the tile still in L1.
        private unsafe void MacroKernel(PackBuffers buffers, int simd, int ic, int mc, int jc, int nc, List<(int Start, int Length)> blocks, (int First, int Count, int Rows) group)
        {
            nint rowStride = TransA ? 1 : Lda;
            nint stepStride = TransA ? Lda : 1;
            int pc0 = blocks[group.First].Start;
            fixed (float* ap = A, bp = buffers.B, cp = C)
            {
                for (int jr = 0; jr < nc;)
                {
                    // AVX-512 takes two whole 16-wide panels at a time; a remainder goes to the AVX2 kernel.
                    bool wide = simd == 2 && nc - jr >= 2 * NR;
                    int cols = Math.Min(NR, nc - jr);
                    for (int ir = 0; ir < mc; ir += MR)
                    {
                        int rows = Math.Min(MR, mc - ir);
                        float* cTile = cp + COffset + (long)(ic + ir) * Ldc + jc + jr;
                        for (int bi = group.First; bi < group.First + group.Count; bi++)
                        {
                            var (pc, kc) = blocks[bi];
                            float beta = bi == 0 ? Beta : 1f;
                            float* aTile = ap + AOffset + (ic + ir) * rowStride + pc * stepStride;
                            float* bPanel = bp + (long)jr * group.Rows + (pc - pc0) * NR;
                            if (wide) MicroKernel.Avx512x6x32(kc, aTile, rowStride, stepStride, bPanel, (nint)group.Rows * NR, cTile, Ldc, Alpha, beta, rows);
                            else if (simd >= 1) MicroKernel.Avx6x16(kc, aTile, rowStride, stepStride, bPanel, cTile, Ldc, Alpha, beta, rows, cols);
                            else MicroKernel.Scalar6x16(kc, aTile, rowStride, stepStride, bPanel, cTile, Ldc, Alpha, beta, rows, cols);
                        }
                    }
                    jr += wide ? 2 * NR : NR;
                }
            }
        }
    }

    /// <summary>Per-thread packing buffer, allocated once (it is reused by every product).</summary>
    private sealed class PackBuffers
    {
        [ThreadStatic] private static PackBuffers? t_instance;
        public readonly float[] B = new float[KC * NC];

        public static PackBuffers ForThisThread() => t_instance ??= new PackBuffers();
    }
}

/// <summary>
/// The 6×16 inner kernels: acc[r, j] = Σ_p a(r, p)·b[p, j] with a(r, p) = a[r·rowStride + p·stepStride]
/// and b packed 16 wide; then C = alpha·acc + beta·C. Rows past <c>rows</c> re-read the last valid
/// row (never out of bounds) and are not stored.
/// </summary>
internal static unsafe class MicroKernel
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx6x16(int kc, float* a, nint rowStride, nint stepStride, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rowStride, a2 = a + Math.Min(2, rows - 1) * rowStride;
        float* a3 = a + Math.Min(3, rows - 1) * rowStride, a4 = a + Math.Min(4, rows - 1) * rowStride, a5 = a + Math.Min(5, rows - 1) * rowStride;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (nint p = 0, ap = 0; p < kc; p++, ap += stepStride)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var av = Vector256.Create(a0[ap]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a1[ap]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a2[ap]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a3[ap]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a4[ap]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a5[ap]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            b += Gemm.NR;
        }
        if (rows == Gemm.MR && cols == Gemm.NR)
        {
            StoreRow(c, c00, c01, alpha, beta); c += ldc;
            StoreRow(c, c10, c11, alpha, beta); c += ldc;
            StoreRow(c, c20, c21, alpha, beta); c += ldc;
            StoreRow(c, c30, c31, alpha, beta); c += ldc;
            StoreRow(c, c40, c41, alpha, beta); c += ldc;
            StoreRow(c, c50, c51, alpha, beta);
            return;
        }
        float* acc = stackalloc float[Gemm.MR * Gemm.NR];
        c00.Store(acc); c01.Store(acc + 8); c10.Store(acc + 16); c11.Store(acc + 24);
        c20.Store(acc + 32); c21.Store(acc + 40); c30.Store(acc + 48); c31.Store(acc + 56);
        c40.Store(acc + 64); c41.Store(acc + 72); c50.Store(acc + 80); c51.Store(acc + 88);
        StorePartial(acc, c, ldc, alpha, beta, rows, cols);
    }

    /// <summary>
    /// The AVX-512 kernel: 6 rows × 32 columns (two 16-wide packed panels, <paramref name="panelStride"/> apart; one 512-bit
    /// accumulator per row and panel). Each element's sum is the same FMA chain over p as in
    /// <see cref="Avx6x16"/>, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512x6x32(int kc, float* a, nint rowStride, nint stepStride, float* b, nint panelStride, float* c, int ldc, float alpha, float beta, int rows)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rowStride, a2 = a + Math.Min(2, rows - 1) * rowStride;
        float* a3 = a + Math.Min(3, rows - 1) * rowStride, a4 = a + Math.Min(4, rows - 1) * rowStride, a5 = a + Math.Min(5, rows - 1) * rowStride;
        float* b0p = b, b1p = b + panelStride;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (nint p = 0, ap = 0; p < kc; p++, ap += stepStride)
        {
            var b0 = Avx512F.LoadVector512(b0p);
            var b1 = Avx512F.LoadVector512(b1p);
            var av = Vector512.Create(a0[ap]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a1[ap]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a2[ap]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a3[ap]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a4[ap]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a5[ap]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            b0p += Gemm.NR;
            b1p += Gemm.NR;
        }
        // Rows past the last valid one re-read it and are not stored; both panels are whole (cols = 32).
        StoreRow(c, c00, c01, alpha, beta);
        if (rows > 1) StoreRow(c + ldc, c10, c11, alpha, beta);
        if (rows > 2) StoreRow(c + 2 * ldc, c20, c21, alpha, beta);
        if (rows > 3) StoreRow(c + 3 * ldc, c30, c31, alpha, beta);
        if (rows > 4) StoreRow(c + 4 * ldc, c40, c41, alpha, beta);
        if (rows > 5) StoreRow(c + 5 * ldc, c50, c51, alpha, beta);
    }

    // C[0..32) = alpha·acc + beta·C, as in the AVX2 StoreRow: a product, then a sum of products, each rounded.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector512<float> lo, Vector512<float> hi, float alpha, float beta)
    {
        if (alpha != 1f)
        {
            var va = Vector512.Create(alpha);
            lo = Avx512F.Multiply(va, lo);
            hi = Avx512F.Multiply(va, hi);
        }
        if (beta != 0f)
        {
            var vb = Vector512.Create(beta);
            lo = Avx512F.Add(lo, Avx512F.Multiply(vb, Avx512F.LoadVector512(c)));
            hi = Avx512F.Add(hi, Avx512F.Multiply(vb, Avx512F.LoadVector512(c + 16)));
        }
        Avx512F.Store(c, lo);
        Avx512F.Store(c + 16, hi);
    }

    // C[0..16) = alpha·acc + beta·C (beta = 0 never reads C, so C may hold garbage).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi, float alpha, float beta)
    {
        if (alpha != 1f)
        {
            var va = Vector256.Create(alpha);
            lo = Avx.Multiply(va, lo);
            hi = Avx.Multiply(va, hi);
        }
        if (beta != 0f)
        {
            var vb = Vector256.Create(beta);
            lo = Avx.Add(lo, Avx.Multiply(vb, Avx.LoadVector256(c)));
            hi = Avx.Add(hi, Avx.Multiply(vb, Avx.LoadVector256(c + 8)));
        }
        Avx.Store(c, lo);
        Avx.Store(c + 8, hi);
    }

    /// <summary>Reference kernel with the same operation order as <see cref="Avx6x16"/>, so the same bits.</summary>
    public static void Scalar6x16(int kc, float* a, nint rowStride, nint stepStride, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        float* acc = stackalloc float[Gemm.MR * Gemm.NR];
        new Span<float>(acc, Gemm.MR * Gemm.NR).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < rows; r++)
            {
                float ar = a[r * rowStride + p * stepStride];
                for (int j = 0; j < Gemm.NR; j++)
                    acc[r * Gemm.NR + j] = MathF.FusedMultiplyAdd(ar, b[j], acc[r * Gemm.NR + j]);
            }
            b += Gemm.NR;
        }
        StorePartial(acc, c, ldc, alpha, beta, rows, cols);
    }

    private static void StorePartial(float* acc, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                float v = acc[r * Gemm.NR + j];
                if (alpha != 1f) v = alpha * v;
                if (beta != 0f) v += beta * c[r * ldc + j];
                c[r * ldc + j] = v;
            }
        }
    }
}
