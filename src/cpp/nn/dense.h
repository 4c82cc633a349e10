// A dense layer's forward and backward: the pair that the Dense layer calls one op at a time
// (fastnn.ops.dense) and that the compiled program calls in sequence.
// Letters: B rows (the batch), D inputs, U units. x is B x D with row stride ldx, w is D x U and
// b is U (or null), row-major; y, dy and dz are B x U, contiguous.
// Convention: each gradient is written by its first contribution in a step and added to by the
// later ones (a shared layer, a value read twice); `accumulate` says which.
#pragma once

#include <cstdint>

#include "../kernels/elementwise.h"
#include "../kernels/gemm.h"
#include "../kernels/spmm.h"

namespace fastnn {

// y = act(x w + b); act is relu, sigmoid, tanh, or UnaryOp::count (linear). The bias and the
// activation run in the GEMM's epilogue while each block of y is in cache. precision is the
// GEMMs' (bfloat16: the mixed_bfloat16 policy; y, the bias and the activation stay float32).
void dense_forward(float* y, const float* x, int64_t ldx, const float* w, const float* b,
                   int64_t B, int64_t D, int64_t U, UnaryOp act,
                   GemmPrecision precision = GemmPrecision::float32);

// dz = act'(y) * dy from the activation's output y (relu: dy where y > 0; sigmoid: dy y (1 - y);
// tanh: dy (1 - y^2); linear: dy). n elements; dz may be dy.
void dense_activation_backward(float* dz, const float* dy, const float* y, int64_t n, UnaryOp act);

struct DenseGrads {
    float* dw = nullptr;           // D x U: x^T dz (null: not wanted, e.g. a frozen layer)
    float* db = nullptr;           // U: the column sums of dz (null: no bias or frozen)
    bool accumulate_w = false;     // add to dw and db instead of writing them
    float* dx = nullptr;           // B x D, row stride lddx: dz w^T (null: not wanted)
    int64_t lddx = 0;
    bool accumulate_x = false;     // add to dx instead of writing it
    // Optional: once dx is complete, multiply it by the derivative of the activation of the
    // layer that produced x (its output y_below, row stride ldy_below), giving that layer's dz in
    // the same pass as the GEMM's last store. BinaryOp::count: none.
    BinaryOp dx_act_grad = BinaryOp::count;
    const float* y_below = nullptr;
    int64_t ldy_below = 0;
};

// The weight, bias and input gradients from dz, the gradient with respect to x w + b.
void dense_backward(const DenseGrads& g, const float* dz, const float* x, int64_t ldx,
                    const float* w, int64_t B, int64_t D, int64_t U,
                    GemmPrecision precision = GemmPrecision::float32);

// The same pair for a sparse x (B rows of a CSR matrix with D columns, spmm.h): the layer of a
// multi-hot input. x is data, never a value with a gradient, so there is no dx (g.dx must be
// null); dw = x^T dz visits only the non-zeros.
void dense_forward_sparse(float* y, const CsrRows& x, const float* w, const float* b, int64_t B,
                          int64_t U, UnaryOp act);
void dense_backward_sparse(const DenseGrads& g, const float* dz, const CsrRows& x, int64_t B,
                           int64_t D, int64_t U);

// The BinaryOp that multiplies a gradient by act's derivative (BinaryOp::count for linear).
BinaryOp activation_grad_op(UnaryOp act);

}  // namespace fastnn
