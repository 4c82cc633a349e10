// The portable GEMM micro-kernel (6 x 16 tile): plain C++ that any compiler and CPU can run.
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

}  // namespace fastnn
