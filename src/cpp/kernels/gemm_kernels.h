// The contract shared by the GEMM driver, the packing routines and the micro-kernels.
#pragma once

#include <cstdint>

namespace fastnn {

// Micro-kernel: one MR x NR tile of C (MR = 6; NR = 16, or 32 for AVX-512).
//   c[i, j] = alpha * sum_p a(i, p) * b[p * NR + j] + beta * c[i, j]   (i < 6, j < NR, p < k)
// a(i, p) = a[i * rsa + p * csa]: a packed panel (rsa = 1, csa = MR) or A read in place.
// b is a packed k x NR micro-panel. c has row stride ldc; beta == 0 never reads c.
using sgemm_ukernel_fn = void (*)(int64_t k, const float* a, int64_t rsa, int64_t csa,
                                  const float* b, float* c, int64_t ldc, float alpha, float beta);

// Small-M kernel (a few rows: see GemmUkernel::small_m_max): C = alpha * A B + beta * C with B read in place,
// unit-stride along its rows (b[p * rsb + j]), K in blocks of kb as the driver splits it; per
// element the same operations as the micro-kernel, so the result does not depend on the path.
using sgemm_small_m_fn = void (*)(int64_t m, int64_t n, int64_t k, int64_t kb, const float* a,
                                  int64_t rsa, int64_t csa, const float* b, int64_t rsb,
                                  float* c, int64_t ldc, float alpha, float beta);

// A micro-kernel with its tile width, its K block and the M block chosen for this CPU's L2; the
// small-M kernel of the same instruction set, the most rows it is always faster for, and the
// most it is faster for while B stays in L2.
struct GemmUkernel {
    const char* name;
    sgemm_ukernel_fn fn;
    int64_t nr;
    int64_t kc;
    int64_t mc;
    sgemm_small_m_fn small_m;
    int64_t small_m_max;
    int64_t small_m_max_l2;
};

void sgemm_ref_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                    float* c, int64_t ldc, float alpha, float beta);
void sgemm_small_m_ref(int64_t m, int64_t n, int64_t k, int64_t kb, const float* a, int64_t rsa,
                       int64_t csa, const float* b, int64_t rsb, float* c, int64_t ldc,
                       float alpha, float beta);
#ifdef FASTNN_HAVE_AVX2
void sgemm_avx2_6x16(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                     float* c, int64_t ldc, float alpha, float beta);
void sgemm_small_m_avx2(int64_t m, int64_t n, int64_t k, int64_t kb, const float* a, int64_t rsa,
                        int64_t csa, const float* b, int64_t rsb, float* c, int64_t ldc,
                        float alpha, float beta);

// Small-N path (N <= GEMM_SMALL_N_MAX): rows of A (m x k, row stride lda, unit column stride)
// dotted with rows of bt (n x k, row stride ldbt, i.e. op(B) transposed), vectorised along k,
// 2 x (up to 6) blocks of C at a time. A 6 x 16 tile would leave 6 of 16 lanes idle at N = 10.
//   c[i, j] = alpha * sum_p a[i * lda + p] * bt[j * ldbt + p] + beta * c[i, j]
void sgemm_avx2_small_n(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* bt, int64_t ldbt, float* c, int64_t ldc, float alpha,
                        float beta);
#endif
#ifdef FASTNN_HAVE_AVX512
void sgemm_avx512_6x32(int64_t k, const float* a, int64_t rsa, int64_t csa, const float* b,
                       float* c, int64_t ldc, float alpha, float beta);
void sgemm_small_m_avx512(int64_t m, int64_t n, int64_t k, int64_t kb, const float* a,
                          int64_t rsa, int64_t csa, const float* b, int64_t rsb, float* c,
                          int64_t ldc, float alpha, float beta);
#endif

// bfloat16 micro-kernel (the mixed-precision GEMM): one MR x NR tile of C from panels packed in
// pairs along k, q < kq = ceil(k / 2), s in {0, 1}, bf16.h's conversion (zero past k):
//   a[(q * MR + i) * 2 + s] = bf16(op(A)[i, 2q + s]),  b[(q * NR + j) * 2 + s] = bf16(op(B)[2q + s, j])
//   acc = 0; for each q: acc = bf16_fma_ftz(a0, b0, bf16_fma_ftz(a1, b1, acc))  (VDPBF16PS)
//   c[i, j] = alpha * acc (+ beta * c[i, j], one fused multiply-add; beta == 0 never reads c)
// Every kernel of this contract gives the same bits.
using sbgemm_ukernel_fn = void (*)(int64_t kq, const uint16_t* a, const uint16_t* b, float* c,
                                   int64_t ldc, float alpha, float beta);
void sbgemm_ref_6x16(int64_t kq, const uint16_t* a, const uint16_t* b, float* c, int64_t ldc,
                     float alpha, float beta);
// The bfloat16 panels above, for A and B alike: element (p, t) of a k x n operand is
// src[p * ldk + t * ldt] (A: t the row i, ldk = csa, ldt = rsa, w = MR; B: t the column j,
// ldk = rsb, ldt = csb, w = nr), packed into ceil(n / w) zero-padded panels of kq x w pairs.
using sbgemm_pack_fn = void (*)(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t ldt,
                                int64_t w, uint16_t* dst);
void sbgemm_pack(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t ldt, int64_t w,
                 uint16_t* dst);
#ifdef FASTNN_HAVE_AVX512_BF16
void sbgemm_avx512bf16_6x32(int64_t kq, const uint16_t* a, const uint16_t* b, float* c,
                            int64_t ldc, float alpha, float beta);
// sbgemm_pack with AVX-512 where one of the strides is 1 (the others: sbgemm_pack).
void sbgemm_pack_avx512bf16(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t ldt,
                            int64_t w, uint16_t* dst);
#endif

// Packs op(B)[0:k, 0:n] into ceil(n / nr) micro-panels of k x nr, zero-padding the last one.
void sgemm_pack_b(int64_t k, int64_t n, const float* B, int64_t rsb, int64_t csb, int64_t nr,
                  float* dst);
// Packs op(A)[0:m, 0:k] into ceil(m / MR) micro-panels of k x MR, zero-padding the last one.
void sgemm_pack_a(int64_t m, int64_t k, const float* A, int64_t rsa, int64_t csa, float* dst);

}  // namespace fastnn
