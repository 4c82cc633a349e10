// Reductions over one run of axes of a C-contiguous array viewed as (outer, reduced, inner).
#pragma once

#include <cstdint>

namespace fastnn {

// out[o, i] = sum_r x[o, r, i], accumulated in double in a fixed order (the result does not
// depend on the thread count). out has outer * inner elements.
void sum_forward(float* out, const float* x, int64_t outer, int64_t reduced, int64_t inner);

// out[o, i] = the first r with x[o, r, i] maximal; a NaN counts as maximal (numpy's rule).
// reduced >= 1.
void argmax_forward(int64_t* out, const float* x, int64_t outer, int64_t reduced, int64_t inner);

// The inner loops, per kernel path (reduce_loops.inc compiled for each target).
constexpr int64_t REDUCE_INNER_BLOCK = 256;  // columns summed together, accumulators on the stack
struct ReduceLoops {
    double (*contiguous)(const float* x, int64_t n);
    void (*columns)(float* out, const float* x, int64_t reduced, int64_t inner, int64_t i0, int64_t w);
};
const ReduceLoops& reduce_loops_generic();
#ifdef FASTNN_HAVE_AVX2
const ReduceLoops& reduce_loops_avx2();
#endif

}  // namespace fastnn
