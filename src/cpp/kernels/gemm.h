// Single-precision GEMM, Goto/BLIS style: C = alpha * op(A) * op(B) + beta * C.
#pragma once

#include <cstdint>

#include "elementwise.h"

namespace fastnn {

// Element-wise work done on each finished block of C while it is still in cache, in this order:
//   C[i, j] += bias[j]                                  (bias != nullptr)
//   C = act(C)                                          (act != UnaryOp::count: relu, sigmoid, tanh)
//   C = act_grad(C, Y), Y[i, j] = y[i * ldy + j]        (act_grad != BinaryOp::count: relu_grad,
//       sigmoid_grad or tanh_grad, Y the activation's output: backprop through the activation)
struct GemmEpilogue {
    const float* bias = nullptr;
    UnaryOp act = UnaryOp::count;
    BinaryOp act_grad = BinaryOp::count;
    const float* y = nullptr;
    int64_t ldy = 0;
};

// What the products are computed in. bfloat16: the operands are rounded to bfloat16 as they
// are packed and the products accumulate in float32 (bf16.h); C, alpha, beta and the epilogue
// stay float32. The result is the same on every kernel path.
enum class GemmPrecision { float32, bfloat16 };

// op(A) is M x K with op(A)[i, k] = A[i * rsa + k * csa]; op(B) is K x N with
// op(B)[k, j] = B[k * rsb + j * csb]: transposes and strided views are just other strides.
// C is M x N, row-major with row stride ldc. beta == 0 never reads C (it may hold NaN).
// Multithreaded over the pool; the result does not depend on the thread count.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t rsa, int64_t csa,
           const float* B, int64_t rsb, int64_t csb,
           float beta, float* C, int64_t ldc, const GemmEpilogue* epilogue = nullptr,
           GemmPrecision precision = GemmPrecision::float32);

// Name of the micro-kernel in use, e.g. "sgemm_avx2_6x16", and of the bfloat16 one
// ("sbgemm_avx512bf16_6x32", or the portable "sbgemm_ref_6x16").
const char* sgemm_kernel_name();
const char* sbgemm_kernel_name();

// The block sizes in use (chosen at import from the instruction set and the caches).
struct GemmBlocking {
    int64_t mr, nr, mc, kc, nc, small_m_max, small_m_max_l2;
};
GemmBlocking sgemm_blocking();

}  // namespace fastnn
