// Inverted dropout with a counter-based mask, the same on every path: element i (row-major index
// in the B x D input) of a layer's call number `counter`, for the layer's `seed`, is kept when
// u(seed, counter, i) >= rate, u uniform in [0, 1) with 24 bits; kept elements are scaled by
// 1 / (1 - rate). The mask depends only on (seed, counter, i): not on the thread count, the
// batch's layout or whether the layer runs alone or in the compiled program.
#pragma once

#include <cstdint>

namespace fastnn {

// y = x * mask, mask (B x D, contiguous) = keep ? 1 / (1 - rate) : 0. x has row stride ldx;
// y is B x D, contiguous. 0 <= rate < 1.
void dropout_forward(float* y, float* mask, const float* x, int64_t ldx, int64_t B, int64_t D,
                     float rate, uint64_t seed, uint64_t counter);

// dx = dy * mask, or dx += dy * mask with accumulate; n elements.
void dropout_backward(float* dx, const float* dy, const float* mask, int64_t n, bool accumulate);

}  // namespace fastnn
