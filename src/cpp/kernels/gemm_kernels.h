// The contract shared by the GEMM driver, the packing routines and the micro-kernels.
#pragma once

#include <cstdint>

namespace fastnn {

// Micro-kernel: one MR x NR (6 x 16) tile of C.
//   c[i, j] = alpha * sum_p a(i, p) * b[p * NR + j] + beta * c[i, j]   (i < 6, j < 16, p < k)
// a(i, p) = a[i * rsa + p * csa]: a packed panel (rsa = 1, csa = MR) or A read in place.
// b is a packed k x NR micro-panel. c has row stride ldc; beta == 0 never reads c.
using sgemm_ukernel_fn = void (*)(int64_t k, const float* a, int64_t rsa, int64_t csa,
                                  const float* b, float* c, int64_t ldc, float alpha, float beta);

void sgemm_ref_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                    float* c, int64_t ldc, float alpha, float beta);
#ifdef FASTNN_HAVE_AVX2
void sgemm_avx2_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                     float* c, int64_t ldc, float alpha, float beta);
#endif

// Packs op(B)[0:k, 0:n] into ceil(n / NR) micro-panels of k x NR, zero-padding the last one.
void sgemm_pack_b(int64_t k, int64_t n, const float* B, int64_t rsb, int64_t csb, float* dst);
// Packs op(A)[0:m, 0:k] into ceil(m / MR) micro-panels of k x MR, zero-padding the last one.
void sgemm_pack_a(int64_t m, int64_t k, const float* A, int64_t rsa, int64_t csa, float* dst);

}  // namespace fastnn
