// The AVX2+FMA GEMM micro-kernel (6 x 16 tile); compiled with -mavx2 -mfma, chosen at run time.
// Self-contained on purpose: no inline function or template shared with baseline files, so the
// linker can never merge an AVX2 copy into code that runs on CPUs without AVX2.
#include <immintrin.h>

#include <cstdint>

#include "gemm_kernels.h"

namespace fastnn {

namespace {

// How a(i, p) = a[i * rsa + p * csa] is addressed; a constant per layout lets the compiler use
// base + index addressing in the inner loop.
enum ALayout { K_MAJOR /* rsa == 1: packed panels, A^T read in place */,
               ROW_MAJOR /* csa == 1: A read in place */,
               STRIDED };

template <ALayout LAYOUT>
__attribute__((always_inline)) inline void tile_6x16(int64_t k, const float* a, int64_t rsa,
                                                     int64_t csa, const float* b, float* c,
                                                     int64_t ldc, float alpha, float beta) {
    // 12 accumulators + 2 rows of B + 1 broadcast = 15 of the 16 ymm registers; 12 independent
    // FMA chains cover the FMA latency (4 cycles) times its two pipes.
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    for (int i = 0; i < 6; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
    }

    const float* a0 = a;
    const float* a1 = a + rsa;
    const float* a2 = a + 2 * rsa;
    const float* a3 = a + 3 * rsa;
    const float* a4 = a + 4 * rsa;
    const float* a5 = a + 5 * rsa;

#pragma GCC unroll 4
    for (int64_t p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = _mm256_load_ps(b + 8);
        b += 16;
        const float *x0, *x1, *x2, *x3, *x4, *x5;
        if (LAYOUT == K_MAJOR) {
            const float* ap = a + p * csa;
            x0 = ap; x1 = ap + 1; x2 = ap + 2; x3 = ap + 3; x4 = ap + 4; x5 = ap + 5;
        } else if (LAYOUT == ROW_MAJOR) {
            x0 = a0 + p; x1 = a1 + p; x2 = a2 + p; x3 = a3 + p; x4 = a4 + p; x5 = a5 + p;
        } else {
            const int64_t o = p * csa;
            x0 = a0 + o; x1 = a1 + o; x2 = a2 + o; x3 = a3 + o; x4 = a4 + o; x5 = a5 + o;
        }
        __m256 x;
        x = _mm256_broadcast_ss(x0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(x1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(x2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(x3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(x4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(x5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }

    const __m256 va = _mm256_set1_ps(alpha);
    __m256 rows[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (beta == 0.0f) {
        for (int i = 0; i < 6; ++i) {
            _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, rows[2 * i]));
            _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, rows[2 * i + 1]));
        }
    } else {
        const __m256 vb = _mm256_set1_ps(beta);
        for (int i = 0; i < 6; ++i) {
            float* ci = c + i * ldc;
            _mm256_storeu_ps(ci, _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), _mm256_mul_ps(va, rows[2 * i])));
            _mm256_storeu_ps(ci + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), _mm256_mul_ps(va, rows[2 * i + 1])));
        }
    }
}

}  // namespace

void sgemm_avx2_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                     float* c, int64_t ldc, float alpha, float beta) {
    if (rsa == 1) tile_6x16<K_MAJOR>(k, a, rsa, csa, b, c, ldc, alpha, beta);
    else if (csa == 1) tile_6x16<ROW_MAJOR>(k, a, rsa, csa, b, c, ldc, alpha, beta);
    else tile_6x16<STRIDED>(k, a, rsa, csa, b, c, ldc, alpha, beta);
}

}  // namespace fastnn
