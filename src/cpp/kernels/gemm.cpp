// The GEMM driver: BLIS's loops around the micro-kernel, per-thread packing buffers, threading.
#include "gemm.h"

#include <cstdlib>
#include <cstring>

#include "config.h"
#include "cpu.h"
#include "gemm_kernels.h"
#include "threadpool.h"

namespace fastnn {

namespace {

constexpr int64_t MR = GEMM_MR, NR = GEMM_NR, MC = GEMM_MC, KC = GEMM_KC, NC = GEMM_NC;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

struct Operands {
    int64_t M, N, K;
    float alpha;
    const float* A; int64_t rsa, csa;
    const float* B; int64_t rsb, csb;
    float beta;
    float* C; int64_t ldc;
};

// Packing buffers of the calling thread, 64-byte aligned, grown on demand and kept: after the
// first call of a given size no GEMM allocates.
class Workspace {
public:
    ~Workspace() { std::free(a_); std::free(b_); }
    float* a(int64_t n) { return grow(a_, a_cap_, n); }
    float* b(int64_t n) { return grow(b_, b_cap_, n); }
    alignas(64) float tile[MR * NR];     // partial C tiles
    alignas(64) float a_edge[MR * KC];   // the last, partial MR rows of an unpacked A

private:
    static float* grow(float*& p, int64_t& cap, int64_t n) {
        if (n > cap) {
            std::free(p);
            size_t bytes = static_cast<size_t>(ceil_div(n * 4, 64) * 64);
            p = static_cast<float*>(std::aligned_alloc(64, bytes));
            cap = p ? n : 0;
        }
        return p;
    }
    float* a_ = nullptr;
    float* b_ = nullptr;
    int64_t a_cap_ = 0, b_cap_ = 0;
};

thread_local Workspace workspace;

sgemm_ukernel_fn chosen_ukernel() {
#ifdef FASTNN_HAVE_AVX2
    if (active_arch() == Arch::avx2) return sgemm_avx2_6x16;
#endif
    return sgemm_ref_6x16;
}

const sgemm_ukernel_fn ukernel = chosen_ukernel();

// K in ceil(K / KC) nearly equal blocks: K = 784 gives 3 x 262, not 256 + 256 + 256 + 16 (a short
// tail block would reread and rewrite all of C for little work).
int64_t k_block(int64_t K) { return ceil_div(K, ceil_div(K, KC)); }

// A is read in place when it is unit-stride along one axis and small enough to stay in L2 across
// the NR strips; otherwise its MC x KC blocks are packed (contiguous, no cache-set conflicts).
bool pack_a_block(const Operands& op, int64_t m) {
    return !(op.rsa == 1 || op.csa == 1) || m > MC;
}

// One MR x NR tile of C. Edge tiles are computed whole into a stack buffer and the valid part is
// merged, so the micro-kernel only ever sees full tiles.
inline void run_tile(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b,
                     float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta,
                     Workspace& ws) {
    if (mr == MR && nr == NR) {
        ukernel(kc, a, rsa, csa, b, c, ldc, alpha, beta);
        return;
    }
    ukernel(kc, a, rsa, csa, b, ws.tile, NR, alpha, 0.0f);
    for (int64_t i = 0; i < mr; ++i) {
        const float* t = ws.tile + i * NR;
        float* ci = c + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < nr; ++j) ci[j] = t[j];
        } else {
            for (int64_t j = 0; j < nr; ++j) ci[j] = t[j] + beta * ci[j];
        }
    }
}

// Loops 3 to 1 for one packed KC x NC block of B: ic over MC rows, jr over NR strips, ir over MR.
void macro_kernel(const Operands& op, int64_t m0, int64_t m1, int64_t pc, int64_t kc,
                  int64_t jc, int64_t nc, const float* b_packed, float beta, Workspace& ws) {
    for (int64_t ic = m0; ic < m1; ic += MC) {
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
                if (packed) {
                    run_tile(kc, a_packed + (ir / MR) * kc * MR, 1, MR, b, c, op.ldc, mr, nr,
                             op.alpha, beta, ws);
                } else if (ir < full_rows) {
                    run_tile(kc, a_blk + ir * op.rsa, op.rsa, op.csa, b, c, op.ldc, mr, nr,
                             op.alpha, beta, ws);
                } else {
                    run_tile(kc, ws.a_edge, 1, MR, b, c, op.ldc, mr, nr, op.alpha, beta, ws);
                }
            }
        }
    }
}

// Loops 5 and 4 (jc over NC, pc over KC) for the rows [m0, m1) and columns [n0, n1) of C.
void sgemm_serial(const Operands& op, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    Workspace& ws = workspace;
    const int64_t kb = k_block(op.K);
    for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = min64(NC, n1 - jc);
        for (int64_t pc = 0; pc < op.K; pc += kb) {
            const int64_t kc = min64(kb, op.K - pc);
            float* b_packed = ws.b(ceil_div(nc, NR) * NR * kc);
            sgemm_pack_b(kc, nc, op.B + pc * op.rsb + jc * op.csb, op.rsb, op.csb, b_packed);
            // beta applies once, on the first K block; later blocks accumulate onto C.
            macro_kernel(op, m0, m1, pc, kc, jc, nc, b_packed, pc == 0 ? op.beta : 1.0f, ws);
        }
    }
}

void scale_rows(float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
    for (int64_t i = 0; i < M; ++i) {
        float* ci = C + i * ldc;
        if (beta == 0.0f) std::memset(ci, 0, static_cast<size_t>(N) * sizeof(float));
        else for (int64_t j = 0; j < N; ++j) ci[j] *= beta;
    }
}

}  // namespace

const char* sgemm_kernel_name() {
    return ukernel == sgemm_ref_6x16 ? "sgemm_ref_6x16" : "sgemm_avx2_6x16";
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t rsa, int64_t csa,
           const float* B, int64_t rsb, int64_t csb,
           float beta, float* C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_rows(C, M, N, ldc, beta);
        return;
    }
    const Operands op{M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc};
    const int64_t threads = get_num_threads();
    const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
    if (threads <= 1 || flops < GEMM_PARALLEL_MIN_FLOPS) {
        sgemm_serial(op, 0, M, 0, N);
        return;
    }
    // Each thread takes a slab of C and packs what it needs itself: no barriers, no sharing.
    // Slabs are whole NR strips (or MR tiles), so every element of C is computed by the same
    // sequence of operations whatever the thread count.
    const int64_t strips = ceil_div(N, NR), tiles = ceil_div(M, MR);
    if (strips >= 2 * threads) {
        parallel_for(threads, [&](int64_t t) {
            const int64_t s0 = strips * t / threads, s1 = strips * (t + 1) / threads;
            sgemm_serial(op, 0, M, s0 * NR, min64(N, s1 * NR));
        });
    } else {
        const int64_t parts = min64(threads, tiles);
        parallel_for(parts, [&](int64_t t) {
            const int64_t r0 = tiles * t / parts, r1 = tiles * (t + 1) / parts;
            sgemm_serial(op, r0 * MR, min64(M, r1 * MR), 0, N);
        });
    }
}

}  // namespace fastnn
