// The portable GEMM micro-kernels (6 x 16 tiles), float32 and bfloat16: plain C++ that any
// compiler and CPU can run.
#include <cmath>

#include "bf16.h"
#include "config.h"
#include "gemm_kernels.h"

namespace fastnn {

void sgemm_ref_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                    float* c, int64_t ldc, float alpha, float beta) {
    constexpr int64_t MR = GEMM_MR, NR = GEMM_NR;
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < k; ++p) {
        const float* bp = b + p * NR;
        for (int64_t i = 0; i < MR; ++i) {
            const float ai = a[i * rsa + p * csa];
            for (int64_t j = 0; j < NR; ++j) acc[i][j] += ai * bp[j];
        }
    }
    for (int64_t i = 0; i < MR; ++i) {
        float* ci = c + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j];
        } else {
            for (int64_t j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
        }
    }
}

// The small-M kernel's portable version: the reference micro-kernel's arithmetic (a sum of
// products per element over each K block, then alpha * sum + beta * C) on B read in place.
void sgemm_small_m_ref(int64_t m, int64_t n, int64_t k, int64_t kb, const float* a, int64_t rsa,
                       int64_t csa, const float* b, int64_t rsb, float* c, int64_t ldc,
                       float alpha, float beta) {
    constexpr int64_t W = 64;
    float acc[W];
    for (int64_t p0 = 0; p0 < k; p0 += kb) {
        const int64_t p1 = p0 + kb < k ? p0 + kb : k;
        const float bt = p0 == 0 ? beta : 1.0f;
        for (int64_t j0 = 0; j0 < n; j0 += W) {
            const int64_t w = n - j0 < W ? n - j0 : W;
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t j = 0; j < w; ++j) acc[j] = 0.0f;
                for (int64_t p = p0; p < p1; ++p) {
                    const float ai = a[i * rsa + p * csa];
                    const float* bp = b + p * rsb + j0;
                    for (int64_t j = 0; j < w; ++j) acc[j] += ai * bp[j];
                }
                float* ci = c + i * ldc + j0;
                if (bt == 0.0f) {
                    for (int64_t j = 0; j < w; ++j) ci[j] = alpha * acc[j];
                } else {
                    for (int64_t j = 0; j < w; ++j) ci[j] = alpha * acc[j] + bt * ci[j];
                }
            }
        }
    }
}

void sbgemm_ref_6x16(int64_t kq, const uint16_t* a, const uint16_t* b, float* c, int64_t ldc,
                     float alpha, float beta) {
    constexpr int64_t MR = GEMM_MR, NR = GEMM_NR;
    float acc[MR][NR] = {};
    for (int64_t q = 0; q < kq; ++q) {
        const uint16_t* aq = a + q * MR * 2;
        const uint16_t* bq = b + q * NR * 2;
        for (int64_t i = 0; i < MR; ++i) {
            const float a0 = bf16_to_float(aq[2 * i]), a1 = bf16_to_float(aq[2 * i + 1]);
            for (int64_t j = 0; j < NR; ++j) {
                const float b0 = bf16_to_float(bq[2 * j]), b1 = bf16_to_float(bq[2 * j + 1]);
                acc[i][j] = bf16_fma_ftz(a0, b0, bf16_fma_ftz(a1, b1, acc[i][j]));
            }
        }
    }
    for (int64_t i = 0; i < MR; ++i) {
        float* ci = c + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < NR; ++j) ci[j] = alpha * acc[i][j];
        } else {
            for (int64_t j = 0; j < NR; ++j) ci[j] = std::fma(beta, ci[j], alpha * acc[i][j]);
        }
    }
}

}  // namespace fastnn
