// The GEMM driver: BLIS's loops around the micro-kernel, per-thread packing buffers, threading.
#include "gemm.h"

#include <cmath>
#include <cstring>

#include "cache.h"
#include "cancel.h"
#include "config.h"
#include "cpu.h"
#include "gemm_kernels.h"
#include "memory.h"
#include "threadpool.h"

namespace fastnn {

namespace {

constexpr int64_t MR = GEMM_MR, NC = GEMM_NC;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

struct Operands {
    int64_t M, N, K;
    float alpha;
    const float* A; int64_t rsa, csa;
    const float* B; int64_t rsb, csb;
    float beta;
    float* C; int64_t ldc;
    const GemmEpilogue* ep;
};

// The epilogue over rows [m0, m1) and columns [n0, n1) of C, one row segment at a time.
void apply_epilogue(const Operands& op, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const GemmEpilogue* ep = op.ep;
    if (!ep) return;
    static const ElementwiseLoops& loops = elementwise_loops();
    const int64_t n = n1 - n0;
    for (int64_t i = m0; i < m1; ++i) {
        float* c = op.C + i * op.ldc + n0;
        if (ep->bias) loops.binary[static_cast<int>(BinaryOp::add)](c, c, 1, ep->bias + n0, 1, n);
        if (ep->act != UnaryOp::count) loops.unary[static_cast<int>(ep->act)](c, c, 1, n);
        if (ep->act_grad != BinaryOp::count)
            loops.binary[static_cast<int>(ep->act_grad)](c, c, 1, ep->y + i * ep->ldy + n0, 1, n);
    }
}

// Packing buffers of the calling thread, 64-byte aligned, grown on demand and kept: after the
// first call of a given size no GEMM allocates.
struct Workspace {
    float* a(int64_t n) { return a_.get(n); }
    float* b(int64_t n) { return b_.get(n); }
    // The same buffers holding n bfloat16 values (the two precisions never share a call).
    uint16_t* a16(int64_t n) { return reinterpret_cast<uint16_t*>(a_.get((n + 1) / 2)); }
    uint16_t* b16(int64_t n) { return reinterpret_cast<uint16_t*>(b_.get((n + 1) / 2)); }
    alignas(64) float tile[MR * GEMM_NR_MAX];  // partial C tiles
    alignas(64) float a_edge[MR * GEMM_KC_MAX];  // the last, partial MR rows of an unpacked A

private:
    FloatBuffer a_, b_;
};

thread_local Workspace workspace;

GemmUkernel choose_ukernel() {
#ifdef FASTNN_HAVE_AVX512
    if (active_arch() >= Arch::avx512)
        return {"sgemm_avx512_6x32", sgemm_avx512_6x32, GEMM_NR_AVX512, GEMM_KC_AVX512, 0,
                sgemm_small_m_avx512, GEMM_SMALL_M_MAX, GEMM_SMALL_M_MAX_L2};
#endif
#ifdef FASTNN_HAVE_AVX2
    if (active_arch() == Arch::avx2)
        return {"sgemm_avx2_6x16", sgemm_avx2_6x16, GEMM_NR, GEMM_KC, 0, sgemm_small_m_avx2,
                GEMM_SMALL_M_MAX_AVX2, GEMM_SMALL_M_MAX_AVX2};
#endif
    return {"sgemm_ref_6x16", sgemm_ref_6x16, GEMM_NR, GEMM_KC, 0, sgemm_small_m_ref,
            GEMM_SMALL_M_MAX, GEMM_SMALL_M_MAX};
}

// The instruction set fixes the tile and K block; the caches fix the rest: an MC x KC block of
// A takes a quarter of L2, leaving room for the B panels streaming through and the C tiles.
GemmUkernel with_blocking(GemmUkernel k) {
    const int64_t rows = cache_sizes().l2 / 4 / (k.kc * static_cast<int64_t>(sizeof(float)));
    const int64_t mc = rows / MR * MR;
    k.mc = mc < GEMM_MC_MIN ? GEMM_MC_MIN : mc > GEMM_MC_MAX ? GEMM_MC_MAX : mc;
    return k;
}

const GemmUkernel uk = with_blocking(choose_ukernel());
const int64_t MC = uk.mc;

struct Bf16Ukernel {
    const char* name;
    sbgemm_ukernel_fn fn;
    sbgemm_pack_fn pack;
    int64_t nr;
    int64_t mc;  // an MC x KC block of A in bfloat16 takes a quarter of L2, as in float32
};

Bf16Ukernel choose_bf16_ukernel() {
    const int64_t rows = cache_sizes().l2 / 4 / (GEMM_KC_BF16 * 2) / MR * MR;
    const int64_t mc = rows < GEMM_MC_MIN ? GEMM_MC_MIN : rows > GEMM_MC_MAX ? GEMM_MC_MAX : rows;
#ifdef FASTNN_HAVE_AVX512_BF16
    if (active_arch() >= Arch::avx512_bf16)
        return {"sbgemm_avx512bf16_6x32", sbgemm_avx512bf16_6x32, sbgemm_pack_avx512bf16,
                GEMM_NR_AVX512, mc};
#endif
    return {"sbgemm_ref_6x16", sbgemm_ref_6x16, sbgemm_pack, GEMM_NR, mc};
}

const Bf16Ukernel bk = choose_bf16_ukernel();

#ifdef FASTNN_HAVE_AVX2
// Whatever the operands' layouts: the small-N kernel sums in its own order, so a GEMM must not
// leave it for a strided view of the same data.
bool use_small_n(const Operands& op) {
    return active_arch() >= Arch::avx2 && op.N <= GEMM_SMALL_N_MAX && op.K >= GEMM_SMALL_N_MIN_K;
}

// Rows [m0, m1) of C by the small-N kernel; bt holds op(B)^T as rows of length K. The kernel
// reads rows of A in place: a strided A is copied first, a block at a time. In blocks of MC rows,
// between which a cancelled op stops.
void small_n_rows(const Operands& op, int64_t m0, int64_t m1, const float* bt, int64_t ldbt) {
    for (int64_t r = m0; r < m1 && !cancelled(); r += MC) {
        const int64_t r1 = min64(m1, r + MC);
        const float* a = op.A + r * op.rsa;
        int64_t lda = op.rsa;
        if (op.csa != 1) {
            float* rows = workspace.a((r1 - r) * op.K);
            for (int64_t i = 0; i < r1 - r; ++i)
                for (int64_t p = 0; p < op.K; ++p) rows[i * op.K + p] = a[i * op.rsa + p * op.csa];
            a = rows;
            lda = op.K;
        }
        sgemm_avx2_small_n(r1 - r, op.N, op.K, a, lda, bt, ldbt, op.C + r * op.ldc, op.ldc,
                           op.alpha, op.beta);
        apply_epilogue(op, r, r1, 0, op.N);
    }
}
#endif

// K in ceil(K / KC) nearly equal blocks: K = 784 gives 3 x 262, not 256 + 256 + 256 + 16 (a short
// tail block would reread and rewrite all of C for little work).
int64_t k_block(int64_t K, int64_t kc) { return ceil_div(K, ceil_div(K, kc)); }

// A is read in place when it is unit-stride along one axis and small enough to stay in L2 across
// the NR strips; otherwise its MC x KC blocks are packed (contiguous, no cache-set conflicts).
bool pack_a_block(const Operands& op, int64_t m) {
    return !(op.rsa == 1 || op.csa == 1) || m > MC;
}

// One MR x NR tile of C, tile(c, ldc, beta) computing a whole one. Edge tiles are computed whole
// into a stack buffer and the valid part is merged, so the micro-kernel only ever sees full tiles.
template <class Tile>
inline void run_tile(const Tile& tile, int64_t NR, float* c, int64_t ldc, int64_t mr, int64_t nr,
                     float beta, Workspace& ws) {
    if (mr == MR && nr == NR) {
        tile(c, ldc, beta);
        return;
    }
    tile(ws.tile, NR, 0.0f);
    for (int64_t i = 0; i < mr; ++i) {
        const float* t = ws.tile + i * NR;
        float* ci = c + i * ldc;
        // As a whole tile stores: beta * c + t in one rounding (t + c exactly so when beta = 1,
        // the later K blocks' case), so an element's bits do not depend on the tile it falls in.
        if (beta == 0.0f) {
            for (int64_t j = 0; j < nr; ++j) ci[j] = t[j];
        } else if (beta == 1.0f) {
            for (int64_t j = 0; j < nr; ++j) ci[j] += t[j];
        } else {
            for (int64_t j = 0; j < nr; ++j) ci[j] = std::fma(beta, ci[j], t[j]);
        }
    }
}

// Loops 3 to 1 for one packed KC x NC block of B: ic over MC rows, jr over NR strips, ir over MR.
// On the last K block (`last`), each MC x NC block of C gets the epilogue while it is in L2.
// A cancelled op stops between MC blocks (a few milliseconds of work each).
void macro_kernel(const Operands& op, int64_t m0, int64_t m1, int64_t pc, int64_t kc,
                  int64_t jc, int64_t nc, const float* b_packed, float beta, bool last,
                  Workspace& ws) {
    const int64_t NR = uk.nr;
    for (int64_t ic = m0; ic < m1 && !cancelled(); ic += MC) {
        const int64_t mc = min64(MC, m1 - ic);
        const float* a_blk = op.A + ic * op.rsa + pc * op.csa;
        const bool packed = pack_a_block(op, m1 - m0);
        const float* a_packed = nullptr;
        const int64_t full_rows = (mc / MR) * MR;
        if (packed) {
            float* buf = ws.a(ceil_div(mc, MR) * MR * kc);
            sgemm_pack_a(mc, kc, a_blk, op.rsa, op.csa, buf);
            a_packed = buf;
        } else if (full_rows < mc) {
            sgemm_pack_a(mc - full_rows, kc, a_blk + full_rows * op.rsa, op.rsa, op.csa, ws.a_edge);
        }
        for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t nr = min64(NR, nc - jr);
            const float* b = b_packed + (jr / NR) * kc * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
                const int64_t mr = min64(MR, mc - ir);
                float* c = op.C + (ic + ir) * op.ldc + jc + jr;
                const float* a = ws.a_edge;
                int64_t rsa = 1, csa = MR;
                if (packed) {
                    a = a_packed + (ir / MR) * kc * MR;
                } else if (ir < full_rows) {
                    a = a_blk + ir * op.rsa, rsa = op.rsa, csa = op.csa;
                }
                run_tile([&](float* ct, int64_t ldct, float bt) {
                    uk.fn(kc, a, rsa, csa, b, ct, ldct, op.alpha, bt);
                }, NR, c, op.ldc, mr, nr, beta, ws);
            }
        }
        if (last) apply_epilogue(op, ic, ic + mc, jc, jc + nc);
    }
}

// Loops 5 and 4 (jc over NC, pc over KC) for the rows [m0, m1) and columns [n0, n1) of C.
void sgemm_serial(const Operands& op, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    Workspace& ws = workspace;
    const int64_t kb = k_block(op.K, uk.kc);
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = min64(NC, n1 - jc);
        for (int64_t pc = 0; pc < op.K && !cancelled(); pc += kb) {
            const int64_t kc = min64(kb, op.K - pc);
            float* b_packed = ws.b(ceil_div(nc, uk.nr) * uk.nr * kc);
            sgemm_pack_b(kc, nc, op.B + pc * op.rsb + jc * op.csb, op.rsb, op.csb, uk.nr, b_packed);
            // beta applies once, on the first K block; later blocks accumulate onto C.
            macro_kernel(op, m0, m1, pc, kc, jc, nc, b_packed, pc == 0 ? op.beta : 1.0f,
                         pc + kc >= op.K, ws);
        }
    }
}

// The bfloat16 GEMM's loops 5 to 1, as sgemm_serial's and macro_kernel's: A is always packed,
// since packing is where the operands become bfloat16, and K blocks are GEMM_KC_BF16 on every
// path (bf16.h: the blocks are part of the result).
void sbgemm_serial(const Operands& op, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    Workspace& ws = workspace;
    const int64_t kb = 2 * ceil_div(k_block(op.K, GEMM_KC_BF16), 2);  // whole pairs
    const int64_t NR = bk.nr;
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = min64(NC, n1 - jc);
        for (int64_t pc = 0; pc < op.K && !cancelled(); pc += kb) {
            const int64_t kc = min64(kb, op.K - pc), kq = (kc + 1) / 2;
            uint16_t* b_packed = ws.b16(ceil_div(nc, NR) * NR * 2 * kq);
            bk.pack(kc, nc, op.B + pc * op.rsb + jc * op.csb, op.rsb, op.csb, NR, b_packed);
            const float beta = pc == 0 ? op.beta : 1.0f;
            for (int64_t ic = m0; ic < m1 && !cancelled(); ic += bk.mc) {
                const int64_t mc = min64(bk.mc, m1 - ic);
                uint16_t* a_packed = ws.a16(ceil_div(mc, MR) * MR * 2 * kq);
                bk.pack(kc, mc, op.A + ic * op.rsa + pc * op.csa, op.csa, op.rsa, MR, a_packed);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = min64(NR, nc - jr);
                    const uint16_t* b = b_packed + (jr / NR) * kq * NR * 2;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const uint16_t* a = a_packed + (ir / MR) * kq * MR * 2;
                        run_tile([&](float* ct, int64_t ldct, float bt) {
                            bk.fn(kq, a, b, ct, ldct, op.alpha, bt);
                        }, NR, op.C + (ic + ir) * op.ldc + jc + jr, op.ldc, min64(MR, mc - ir),
                           nr, beta, ws);
                    }
                }
                if (pc + kc >= op.K) apply_epilogue(op, ic, ic + mc, jc, jc + nc);
            }
        }
    }
}

// Splits C over the pool in slabs for serial(m0, m1, n0, n1): each thread packs what it needs
// itself (no barriers, no sharing). Slabs are whole NR strips (or MR tiles), so every element
// of C is computed by the same sequence of operations whatever the thread count. Slabs of
// columns make every thread pack all of A, slabs of rows all of B: rows_first says that packing
// all of B is the cheaper duplicate. Where A is read in place, slabs of columns share no
// packing, so each thread gets several: one whose core is taken (by another library's spinning
// threads, say) then holds the job back by a small slab, the others taking the rest.
template <class Serial>
void split_over_pool(const Operands& op, int64_t threads, int64_t nr, bool a_in_place,
                     bool rows_first, const Serial& serial) {
    const int64_t tiles = ceil_div(op.M, MR), strips = ceil_div(op.N, nr);
    const bool split_rows = rows_first && tiles >= 2 * threads;
    if (strips >= 2 * threads && !split_rows) {
        const int64_t parts = min64(strips, threads * (a_in_place ? GEMM_SLABS_PER_THREAD : 1));
        parallel_for(parts, [&](int64_t t) {
            const int64_t s0 = strips * t / parts, s1 = strips * (t + 1) / parts;
            serial(op, 0, op.M, s0 * nr, min64(op.N, s1 * nr));
        });
    } else {
        const int64_t parts = min64(threads, tiles);
        parallel_for(parts, [&](int64_t t) {
            const int64_t r0 = tiles * t / parts, r1 = tiles * (t + 1) / parts;
            serial(op, r0 * MR, min64(op.M, r1 * MR), 0, op.N);
        });
    }
}

// The small-M path: B read in place, its columns split over the pool in strips of 64 (whole
// strips of the kernel's widest tile, so each element is computed the same way on any thread
// count), with the epilogue on each strip once it is complete.
void small_m(const Operands& op, int64_t threads) {
    const int64_t kb = k_block(op.K, uk.kc);
    constexpr int64_t STRIP = 64;
    const int64_t strips = ceil_div(op.N, STRIP);
    const double bytes = 4.0 * static_cast<double>(op.K) * static_cast<double>(op.N);
    const int64_t parts = bytes < GEMM_SMALL_M_PARALLEL_BYTES ? 1 : min64(threads, strips);
    parallel_for(parts, [&](int64_t t) {
        const int64_t n0 = strips * t / parts * STRIP, n1 = min64(op.N, strips * (t + 1) / parts * STRIP);
        if (n0 >= n1 || cancelled()) return;
        uk.small_m(op.M, n1 - n0, op.K, kb, op.A, op.rsa, op.csa, op.B + n0, op.rsb, op.C + n0,
                   op.ldc, op.alpha, op.beta);
        apply_epilogue(op, 0, op.M, n0, n1);
    });
}

void scale_rows(float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
    for (int64_t i = 0; i < M; ++i) {
        float* ci = C + i * ldc;
        if (beta == 0.0f) std::memset(ci, 0, static_cast<size_t>(N) * sizeof(float));
        else for (int64_t j = 0; j < N; ++j) ci[j] *= beta;
    }
}

}  // namespace

const char* sgemm_kernel_name() { return uk.name; }
const char* sbgemm_kernel_name() { return bk.name; }

GemmBlocking sgemm_blocking() {
    return {GEMM_MR, uk.nr, MC, uk.kc, NC, uk.small_m_max, uk.small_m_max_l2};
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t rsa, int64_t csa,
           const float* B, int64_t rsb, int64_t csb,
           float beta, float* C, int64_t ldc, const GemmEpilogue* epilogue,
           GemmPrecision precision) {
    if (M <= 0 || N <= 0) return;
    const Operands op{M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, epilogue};
    if (K <= 0) {
        scale_rows(C, M, N, ldc, beta);
        apply_epilogue(op, 0, M, 0, N);
        return;
    }
    const int64_t threads = get_num_threads();
    const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    const bool serial = threads <= 1 || flops < GEMM_PARALLEL_MIN_FLOPS;
    if (precision == GemmPrecision::bfloat16) {
        if (serial) sbgemm_serial(op, 0, M, 0, N);
        // Every panel is a conversion, A's as fast as B's: each thread converts all of the
        // smaller operand.
        else split_over_pool(op, threads, bk.nr, false, M > N, sbgemm_serial);
        return;
    }
#ifdef FASTNN_HAVE_AVX2
    if (use_small_n(op)) {
        const float* bt = B;
        int64_t ldbt = csb;
        if (rsb != 1) {
            float* packed = workspace.b(N * K);
            for (int64_t p = 0; p < K; ++p)
                for (int64_t j = 0; j < N; ++j) packed[j * K + p] = B[p * rsb + j * csb];
            bt = packed;
            ldbt = K;
        }
        const int64_t tiles = ceil_div(M, MR);  // row slabs of whole MR tiles (even, for small-N)
        const int64_t parts = serial ? 1 : min64(threads, tiles);
        parallel_for(parts, [&](int64_t t) {
            small_n_rows(op, tiles * t / parts * MR, min64(M, tiles * (t + 1) / parts * MR), bt, ldbt);
        });
        return;
    }
#endif
    // Up to small_m_max rows, packing B never pays; up to small_m_max_l2 it does not either
    // while each thread's columns of B fit in its L2 (to be read from there once per 4 rows).
    const double b_share = 4.0 * static_cast<double>(K) * static_cast<double>(N) / threads;
    if (csb == 1 && (M <= uk.small_m_max ||
                     (M <= uk.small_m_max_l2 && b_share <= static_cast<double>(cache_sizes().l2)))) {
        small_m(op, threads);
        return;
    }
    // Packing a row-major A is a transposition, element by element; packing a row-major B
    // copies rows: the second is the cheaper one to repeat on every thread.
    if (serial) sgemm_serial(op, 0, M, 0, N);
    else split_over_pool(op, threads, uk.nr, !pack_a_block(op, M),
                         pack_a_block(op, M) && op.csa == 1 && op.rsa != 1 && op.csb == 1,
                         sgemm_serial);
}

}  // namespace fastnn
