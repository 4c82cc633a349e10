// The element-wise driver: walks a broadcast plan in fixed chunks over the thread pool and calls
// the inner loops of the kernel path chosen for this CPU; also the baseline copy of those loops.
#include "elementwise.h"

#include <math.h>

#include "config.h"
#include "cpu.h"
#include "threadpool.h"

namespace fastnn {

#include "elementwise_loops.inc"

const ElementwiseLoops& elementwise_loops_generic() { return loops_of_this_unit; }

const ElementwiseLoops& elementwise_loops() {
#ifdef FASTNN_HAVE_AVX2
    if (active_arch() >= Arch::avx2) return elementwise_loops_avx2();
#endif
    return elementwise_loops_generic();
}

namespace {

// Calls run(out, a, b, n) for every inner run of elements in the flat output range
// [begin, end): the innermost dimension, clipped to the range.
template <class Run>
void walk(const BroadcastPlan& p, int64_t begin, int64_t end, float* out, const float* a,
          const float* b, Run run) {
    const int nd = p.ndim;
    const int64_t inner = p.shape[nd - 1];
    int64_t index[MAX_DIMS];
    int64_t rest = begin / inner;
    int64_t off_a = 0, off_b = 0;
    for (int d = nd - 2; d >= 0; --d) {
        index[d] = rest % p.shape[d];
        rest /= p.shape[d];
        off_a += index[d] * p.stride[0][d];
        off_b += index[d] * p.stride[1][d];
    }
    int64_t pos = begin;
    int64_t j = begin % inner;
    while (pos < end) {
        const int64_t n = (end - pos < inner - j) ? end - pos : inner - j;
        run(out + pos, a + off_a + j * p.stride[0][nd - 1], b + off_b + j * p.stride[1][nd - 1], n);
        pos += n;
        j = 0;
        for (int d = nd - 2; d >= 0; --d) {  // odometer step over the outer dimensions
            off_a += p.stride[0][d];
            off_b += p.stride[1][d];
            if (++index[d] < p.shape[d]) break;
            off_a -= index[d] * p.stride[0][d];
            off_b -= index[d] * p.stride[1][d];
            index[d] = 0;
        }
    }
}

int64_t plan_size(const BroadcastPlan& p) {
    int64_t n = 1;
    for (int d = 0; d < p.ndim; ++d) n *= p.shape[d];
    return n;
}

// Fixed chunks (independent of the thread count): each output element is computed the same way
// whichever thread runs its chunk.
template <class Run>
void for_chunks(const BroadcastPlan& p, float* out, const float* a, const float* b, Run run) {
    const int64_t total = plan_size(p);
    if (total <= 0) return;
    if (total < ELEMENTWISE_PARALLEL_MIN) {
        walk(p, 0, total, out, a, b, run);
        return;
    }
    const int64_t chunks = (total + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK;
    parallel_for(chunks, [&](int64_t c) {
        const int64_t begin = c * ELEMENTWISE_CHUNK;
        const int64_t end = begin + ELEMENTWISE_CHUNK < total ? begin + ELEMENTWISE_CHUNK : total;
        walk(p, begin, end, out, a, b, run);
    });
}

}  // namespace

void binary_forward(BinaryOp op, float* out, const float* a, const float* b,
                    const BroadcastPlan& plan) {
    static const ElementwiseLoops& loops = elementwise_loops();
    const binary_loop_fn fn = loops.binary[static_cast<int>(op)];
    const int64_t sa = plan.stride[0][plan.ndim - 1], sb = plan.stride[1][plan.ndim - 1];
    for_chunks(plan, out, a, b, [&](float* o, const float* x, const float* y, int64_t n) {
        fn(o, x, sa, y, sb, n);
    });
}

void unary_forward(UnaryOp op, float* out, const float* x, const BroadcastPlan& plan) {
    static const ElementwiseLoops& loops = elementwise_loops();
    const unary_loop_fn fn = loops.unary[static_cast<int>(op)];
    const int64_t sx = plan.stride[0][plan.ndim - 1];
    for_chunks(plan, out, x, x, [&](float* o, const float* v, const float*, int64_t n) {
        fn(o, v, sx, n);
    });
}

}  // namespace fastnn
