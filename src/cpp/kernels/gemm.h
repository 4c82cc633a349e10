// Single-precision GEMM, Goto/BLIS style: C = alpha * op(A) * op(B) + beta * C.
#pragma once

#include <cstdint>

namespace fastnn {

// op(A) is M x K with op(A)[i, k] = A[i * rsa + k * csa]; op(B) is K x N with
// op(B)[k, j] = B[k * rsb + j * csb]: transposes and strided views are just other strides.
// C is M x N, row-major with row stride ldc. beta == 0 never reads C (it may hold NaN).
// Multithreaded over the pool; the result does not depend on the thread count.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t rsa, int64_t csa,
           const float* B, int64_t rsb, int64_t csb,
           float beta, float* C, int64_t ldc);

// Name of the micro-kernel in use, e.g. "sgemm_avx2_6x16".
const char* sgemm_kernel_name();

}  // namespace fastnn
