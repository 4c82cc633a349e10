// The AVX2+FMA GEMM micro-kernels: 6 x 16 tiles, and the small-N kernel. Compiled with
// -mavx2 -mfma and chosen at run time. Self-contained on purpose: no inline function or template
// with external linkage is shared with baseline files, so the linker can never merge an AVX2 copy
// into code that runs on CPUs without AVX2.
#include <immintrin.h>
#include <math.h>

#include <cstdint>

#include "gemm_kernels.h"

namespace fastnn {

#define VEC __m256
#define VW 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_load_ps(p)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps((p), (v))
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VSET1(x) _mm256_set1_ps(x)
#define UKERNEL_NAME sgemm_avx2_6x16
#include "gemm_ukernel_6xn.inc"
#define SMALL_M_NAME sgemm_small_m_avx2
#include "gemm_small_m.inc"
#undef SMALL_M_NAME
#undef VEC
#undef VW
#undef VZERO
#undef VLOAD
#undef VLOADU
#undef VSTOREU
#undef VBCAST
#undef VFMA
#undef VMUL
#undef VSET1
#undef UKERNEL_NAME

}  // namespace fastnn


namespace fastnn {

namespace {

// The sums of the 8 lanes of v0..v3, in that order.
inline __m128 hsum4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// 2 rows of C by NC (<= 6) columns: 2 * NC dot products, each accumulated in 8 lanes. Every
// loaded vector feeds several FMAs (a row of A feeds NC, a row of B^T feeds 2), so loads stay
// below the FMA rate even when rows of A are not 32-byte aligned.
template <int NC>
void block_2xn(int64_t k, const float* r0, const float* r1, const float* bt, int64_t ldbt,
               __m256i tail, float sums[12]) {
    __m256 s0[NC], s1[NC];
    for (int j = 0; j < NC; ++j) s0[j] = s1[j] = _mm256_setzero_ps();
    const int64_t k8 = k & ~int64_t{7};
    for (int64_t p = 0; p < k8; p += 8) {
        const __m256 x0 = _mm256_loadu_ps(r0 + p), x1 = _mm256_loadu_ps(r1 + p);
        for (int j = 0; j < NC; ++j) {
            __m256 b = _mm256_loadu_ps(bt + j * ldbt + p);
            // Keep b in a register: folded into both FMAs it would be loaded twice. (GNU inline
            // assembly only; MSVC has none on x64 and goes without the hint.)
#if defined(__GNUC__) || defined(__clang__)
            __asm__("" : "+x"(b));
#endif
            s0[j] = _mm256_fmadd_ps(x0, b, s0[j]);
            s1[j] = _mm256_fmadd_ps(x1, b, s1[j]);
        }
    }
    if (k8 < k) {  // masked lanes read nothing past the end of a row
        const __m256 x0 = _mm256_maskload_ps(r0 + k8, tail), x1 = _mm256_maskload_ps(r1 + k8, tail);
        for (int j = 0; j < NC; ++j) {
            const __m256 b = _mm256_maskload_ps(bt + j * ldbt + k8, tail);
            s0[j] = _mm256_fmadd_ps(x0, b, s0[j]);
            s1[j] = _mm256_fmadd_ps(x1, b, s1[j]);
        }
    }
    // sums[j] for row 0, sums[6 + j] for row 1; four lane-reductions at a time.
    const __m256 z = _mm256_setzero_ps();
    _mm_storeu_ps(sums, hsum4(s0[0], NC > 1 ? s0[1] : z, NC > 2 ? s0[2] : z, NC > 3 ? s0[3] : z));
    _mm_storeu_ps(sums + 6, hsum4(s1[0], NC > 1 ? s1[1] : z, NC > 2 ? s1[2] : z, NC > 3 ? s1[3] : z));
    if (NC > 4) {
        const __m128 r = hsum4(s0[4 % NC], NC > 5 ? s0[5 % NC] : z, s1[4 % NC], NC > 5 ? s1[5 % NC] : z);
        sums[4] = _mm_cvtss_f32(r);
        sums[5] = _mm_cvtss_f32(_mm_shuffle_ps(r, r, 1));
        sums[10] = _mm_cvtss_f32(_mm_shuffle_ps(r, r, 2));
        sums[11] = _mm_cvtss_f32(_mm_shuffle_ps(r, r, 3));
    }
}

using block_fn = void (*)(int64_t, const float*, const float*, const float*, int64_t, __m256i,
                          float[12]);
const block_fn blocks[7] = {nullptr, block_2xn<1>, block_2xn<2>, block_2xn<3>,
                            block_2xn<4>, block_2xn<5>, block_2xn<6>};

}  // namespace

void sgemm_avx2_small_n(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* bt, int64_t ldbt, float* c, int64_t ldc, float alpha,
                        float beta) {
    alignas(32) const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const int64_t rem = k & 7;
    const __m256i tail = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes + 8 - rem));
    // Columns in nearly equal blocks of at most 6: N = 10 runs as 5 + 5, not 6 + 4.
    const int64_t n_blocks = (n + 5) / 6;
    alignas(16) float sums[12];
    for (int64_t i0 = 0; i0 < m; i0 += 2) {
        const int64_t mr = m - i0 < 2 ? m - i0 : 2;
        const float* r0 = a + i0 * lda;
        const float* r1 = mr == 2 ? r0 + lda : r0;  // a lone last row is computed twice
        for (int64_t jb = 0; jb < n_blocks; ++jb) {
            const int64_t j0 = n * jb / n_blocks, nc = n * (jb + 1) / n_blocks - j0;
            blocks[nc](k, r0, r1, bt + j0 * ldbt, ldbt, tail, sums);
            for (int64_t i = 0; i < mr; ++i) {
                float* ci = c + (i0 + i) * ldc + j0;
                for (int64_t j = 0; j < nc; ++j)
                    ci[j] = beta == 0.0f ? alpha * sums[6 * i + j] : alpha * sums[6 * i + j] + beta * ci[j];
            }
        }
    }
}

}  // namespace fastnn
