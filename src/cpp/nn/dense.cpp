// The dense layer's forward and backward as GEMMs with epilogues.
#include "dense.h"

#include <cstring>

#include "../kernels/config.h"
#include "../kernels/memory.h"
#include "../kernels/reduce.h"
#include "../kernels/threadpool.h"

namespace fastnn {

namespace {

// Scratch of the calling thread: a narrow layer's transposed weight gradient and the column
// sums of an accumulated bias gradient. Grows once, then is reused.
thread_local FloatBuffer dense_scratch;

void add_into(float* dst, const float* src, int64_t n) {
    static const ElementwiseLoops& loops = elementwise_loops();
    loops.binary[static_cast<int>(BinaryOp::add)](dst, dst, 1, src, 1, n);
}

// db = the column sums of dz (B x U), or db += them.
void bias_gradient(float* db, const float* dz, int64_t B, int64_t U, bool accumulate) {
    if (accumulate) {
        float* sums = dense_scratch.get(U);
        sum_forward(sums, dz, 1, B, U);
        add_into(db, sums, U);
    } else {
        sum_forward(db, dz, 1, B, U);
    }
}

}  // namespace

BinaryOp activation_grad_op(UnaryOp act) {
    switch (act) {
        case UnaryOp::relu: return BinaryOp::relu_grad;
        case UnaryOp::sigmoid: return BinaryOp::sigmoid_grad;
        case UnaryOp::tanh: return BinaryOp::tanh_grad;
        default: return BinaryOp::count;
    }
}

void dense_forward(float* y, const float* x, int64_t ldx, const float* w, const float* b,
                   int64_t B, int64_t D, int64_t U, UnaryOp act, GemmPrecision precision) {
    GemmEpilogue ep;
    ep.bias = b;
    ep.act = act;
    sgemm(B, U, D, 1.0f, x, ldx, 1, w, U, 1, 0.0f, y, U, &ep, precision);
}

void dense_forward_sparse(float* y, const CsrRows& x, const float* w, const float* b, int64_t B,
                          int64_t U, UnaryOp act) {
    spmm(y, x, B, w, U, b);
    if (act == UnaryOp::count) return;
    static const ElementwiseLoops& loops = elementwise_loops();
    const unary_loop_fn fn = loops.unary[static_cast<int>(act)];
    parallel_rows(B * U, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN,
                  [&](int64_t i0, int64_t i1) { fn(y + i0, y + i0, 1, i1 - i0); });
}

void dense_backward_sparse(const DenseGrads& g, const float* dz, const CsrRows& x, int64_t B,
                           int64_t D, int64_t U) {
    if (g.dw) spmm_t(g.dw, x, B, dz, D, U, g.accumulate_w);
    if (g.db) bias_gradient(g.db, dz, B, U, g.accumulate_w);
}

void dense_activation_backward(float* dz, const float* dy, const float* y, int64_t n, UnaryOp act) {
    const BinaryOp op = activation_grad_op(act);
    if (op == BinaryOp::count) {
        if (dz != dy) std::memcpy(dz, dy, static_cast<size_t>(n) * sizeof(float));
        return;
    }
    static const ElementwiseLoops& loops = elementwise_loops();
    const binary_loop_fn fn = loops.binary[static_cast<int>(op)];
    parallel_rows(n, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t i0, int64_t i1) {
        fn(dz + i0, dy + i0, 1, y + i0, 1, i1 - i0);
    });
}

void dense_backward(const DenseGrads& g, const float* dz, const float* x, int64_t ldx,
                    const float* w, int64_t B, int64_t D, int64_t U, GemmPrecision precision) {
    if (g.dx) {
        // dx = dz w^T, w read through transposed strides; the layer below's activation
        // derivative, when asked for, in the epilogue (it runs after the last K block, so on
        // the whole accumulated sum).
        GemmEpilogue ep;
        ep.act_grad = g.dx_act_grad;
        ep.y = g.y_below;
        ep.ldy = g.ldy_below;
        sgemm(B, D, U, 1.0f, dz, U, 1, w, 1, U, g.accumulate_x ? 1.0f : 0.0f, g.dx, g.lddx,
              g.dx_act_grad == BinaryOp::count ? nullptr : &ep, precision);
    }
    if (g.dw) {
        if (U <= DENSE_NARROW_OUT) {
            // A narrow layer (the 10-class output): dw^T = dz^T x, U x D, has the wide side along
            // the vector lanes, where dw = x^T dz would leave most lanes of each tile idle.
            float* t = dense_scratch.get(U * D);
            sgemm(U, D, B, 1.0f, dz, 1, U, x, ldx, 1, 0.0f, t, D, nullptr, precision);
            for (int64_t i = 0; i < D; ++i) {
                float* row = g.dw + i * U;
                if (g.accumulate_w) {
                    for (int64_t j = 0; j < U; ++j) row[j] += t[j * D + i];
                } else {
                    for (int64_t j = 0; j < U; ++j) row[j] = t[j * D + i];
                }
            }
        } else {
            // x read through transposed strides: nothing is materialised.
            sgemm(D, U, B, 1.0f, x, 1, ldx, dz, U, 1, g.accumulate_w ? 1.0f : 0.0f, g.dw, U,
                  nullptr, precision);
        }
    }
    if (g.db) bias_gradient(g.db, dz, B, U, g.accumulate_w);
}

}  // namespace fastnn
