// Element-wise kernels with NumPy broadcasting: binary ops, unary functions, backward helpers.
#pragma once

#include <cstdint>

#include "broadcast.h"

namespace fastnn {

enum class BinaryOp : int {
    add = 0, subtract, multiply, divide, maximum, minimum,
    relu_grad,     // grad * (x > 0): the gradient at exactly 0 is 0
    sigmoid_grad,  // grad * y * (1 - y), y = sigmoid(x)
    tanh_grad,     // grad * (1 - y * y), y = tanh(x)
    count
};
enum class UnaryOp : int { relu = 0, sigmoid, tanh, exp, log, count };

// out (C-contiguous, plan's shape) = op(a, b); a and b are read through plan.stride[0] / [1].
void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                    const BroadcastPlan& plan);
// out = op(x); x read through plan.stride[0].
void unary_forward(UnaryOp op, float* out, const float* x, const BroadcastPlan& plan);

// The inner loops: n elements, input strides in elements (0 = a repeated value), out contiguous.
using binary_loop_fn = void (*)(float* out, const float* a, int64_t sa, const float* b,
                                int64_t sb, int64_t n);
using unary_loop_fn = void (*)(float* out, const float* x, int64_t sx, int64_t n);
struct ElementwiseLoops {
    binary_loop_fn binary[static_cast<int>(BinaryOp::count)];
    unary_loop_fn unary[static_cast<int>(UnaryOp::count)];
};
// The loops of the kernel path this process runs (for kernels that fuse element-wise work).
const ElementwiseLoops& elementwise_loops();
const ElementwiseLoops& elementwise_loops_generic();
#ifdef FASTNN_HAVE_AVX2
const ElementwiseLoops& elementwise_loops_avx2();
#endif

}  // namespace fastnn
