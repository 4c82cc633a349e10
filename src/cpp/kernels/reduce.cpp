// Sum and argmax over a run of axes: the bias gradient (sum over the batch axis) is the hot case.
#include "reduce.h"

#include "config.h"
#include "cpu.h"
#include "threadpool.h"

namespace fastnn {

#include "reduce_loops.inc"

const ReduceLoops& reduce_loops_generic() { return loops_of_this_unit; }

namespace {

const ReduceLoops& chosen() {
#ifdef FASTNN_HAVE_AVX2
    if (active_arch() >= Arch::avx2) return reduce_loops_avx2();
#endif
    return reduce_loops_generic();
}

}  // namespace

void sum_forward(float* out, const float* x, int64_t outer, int64_t reduced, int64_t inner) {
    static const ReduceLoops& loops = chosen();
    const auto sum_contiguous = loops.contiguous;
    const auto sum_columns = loops.columns;
    constexpr int64_t INNER_BLOCK = REDUCE_INNER_BLOCK;
    if (inner == 1) {
        if (outer == 1) {
            // One long sum: fixed chunks summed in parallel, then the partial sums in order.
            const int64_t chunks = (reduced + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK;
            if (chunks <= 1 || reduced < ELEMENTWISE_PARALLEL_MIN) {
                double total = 0.0;
                for (int64_t c = 0; c < reduced; c += ELEMENTWISE_CHUNK)
                    total += sum_contiguous(x + c, reduced - c < ELEMENTWISE_CHUNK ? reduced - c : ELEMENTWISE_CHUNK);
                out[0] = static_cast<float>(total);
                return;
            }
            constexpr int64_t MAX_PARTIALS = 4096;
            double partial[MAX_PARTIALS];
            const int64_t step = chunks <= MAX_PARTIALS ? ELEMENTWISE_CHUNK
                                 : (reduced + MAX_PARTIALS - 1) / MAX_PARTIALS;
            const int64_t n_parts = (reduced + step - 1) / step;
            parallel_for(n_parts, [&](int64_t c) {
                const int64_t b = c * step;
                partial[c] = sum_contiguous(x + b, reduced - b < step ? reduced - b : step);
            });
            double total = 0.0;
            for (int64_t c = 0; c < n_parts; ++c) total += partial[c];
            out[0] = static_cast<float>(total);
            return;
        }
        parallel_rows(outer, reduced, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN,
                      [&](int64_t o0, int64_t o1) {
            for (int64_t o = o0; o < o1; ++o) out[o] = static_cast<float>(sum_contiguous(x + o * reduced, reduced));
        });
        return;
    }
    // Reduction over a middle axis: each task owns an outer slice and a block of columns.
    const int64_t blocks = (inner + INNER_BLOCK - 1) / INNER_BLOCK;
    auto task = [&](int64_t t) {
        const int64_t o = t / blocks, i0 = (t % blocks) * INNER_BLOCK;
        const int64_t w = inner - i0 < INNER_BLOCK ? inner - i0 : INNER_BLOCK;
        sum_columns(out + o * inner, x + o * reduced * inner, reduced, inner, i0, w);
    };
    if (outer * reduced * inner < ELEMENTWISE_PARALLEL_MIN) {
        for (int64_t t = 0; t < outer * blocks; ++t) task(t);
    } else {
        parallel_for(outer * blocks, task);
    }
}

void argmax_forward(int64_t* out, const float* x, int64_t outer, int64_t reduced, int64_t inner) {
    for (int64_t o = 0; o < outer; ++o) {
        const float* slice = x + o * reduced * inner;
        for (int64_t i = 0; i < inner; ++i) {
            int64_t best = 0;
            float best_value = slice[i];
            if (best_value == best_value) {  // not NaN yet: look further
                for (int64_t r = 1; r < reduced; ++r) {
                    const float v = slice[r * inner + i];
                    if (v != v) {  // the first NaN wins
                        best = r;
                        break;
                    }
                    if (v > best_value) {
                        best = r;
                        best_value = v;
                    }
                }
            }
            out[o * inner + i] = best;
        }
    }
}

}  // namespace fastnn
