// Fused SGD / RMSprop / Adagrad / Adam updates: kernel-path choice, chunking and threading.
#include "optim.h"

#include <algorithm>
#include <cmath>

#include "config.h"
#include "cpu.h"
#include "optim_loops.h"
#include "threadpool.h"

namespace fastnn {

namespace {

// The table of loops for this process, chosen once: the AVX2 copy when the CPU (and FASTNN_ARCH)
// allow it, otherwise this file's baseline copy.
const OptimLoops& loops() {
    static constexpr OptimLoops generic = optim_loops_of_this_unit();
#ifdef FASTNN_HAVE_AVX2
    static const OptimLoops& chosen =
        active_arch() >= Arch::avx2 ? optim_loops_avx2() : generic;
    return chosen;
#else
    return generic;
#endif
}

// body(begin, end) over [0, n): in fixed chunks of ELEMENTWISE_CHUNK spread over the pool, or in
// one call on this thread below ELEMENTWISE_PARALLEL_MIN (a fork/join costs more than the work).
// Every element is updated by the same operations whichever chunk holds it, so the result is
// bit-identical for any thread count.
template <typename Body>
void for_each_chunk(int64_t n, const Body& body) {
    if (n <= 0) return;
    if (n < ELEMENTWISE_PARALLEL_MIN) {
        body(int64_t{0}, n);
        return;
    }
    const int64_t chunks = (n + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK;
    parallel_for(chunks, [&](int64_t c) {
        const int64_t begin = c * ELEMENTWISE_CHUNK;
        body(begin, std::min(n, begin + ELEMENTWISE_CHUNK));
    });
}

}  // namespace

void sgd_update(float* param, float* velocity, const float* grad, int64_t n,
                float learning_rate, float momentum, bool nesterov) {
    const OptimLoops& l = loops();
    if (velocity == nullptr) {
        // Keras keeps no velocity slot at momentum 0: plain gradient descent.
        for_each_chunk(n, [&](int64_t b, int64_t e) {
            l.sgd(param + b, grad + b, e - b, learning_rate);
        });
        return;
    }
    const auto loop = nesterov ? l.sgd_nesterov : l.sgd_momentum;
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        loop(param + b, velocity + b, grad + b, e - b, learning_rate, momentum);
    });
}

void rmsprop_update(float* param, float* velocity, float* momentum_buffer, const float* grad,
                    int64_t n, float learning_rate, float rho, float one_minus_rho,
                    float momentum, float epsilon) {
    const OptimLoops& l = loops();
    if (momentum_buffer != nullptr) {
        for_each_chunk(n, [&](int64_t b, int64_t e) {
            l.rmsprop_momentum(param + b, velocity + b, momentum_buffer + b, grad + b, e - b,
                               learning_rate, rho, one_minus_rho, momentum, epsilon);
        });
        return;
    }
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        l.rmsprop(param + b, velocity + b, grad + b, e - b, learning_rate, rho, one_minus_rho,
                  epsilon);
    });
}

void adagrad_update(float* param, float* accumulator, const float* grad, int64_t n,
                    float learning_rate, float epsilon) {
    const OptimLoops& l = loops();
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        l.adagrad(param + b, accumulator + b, grad + b, e - b, learning_rate, epsilon);
    });
}

void adam_update(float* param, float* m, float* v, const float* grad, int64_t n, float alpha,
                 float one_minus_beta_1, float one_minus_beta_2, float epsilon) {
    const OptimLoops& l = loops();
    for_each_chunk(n, [&](int64_t b, int64_t e) {
        l.adam(param + b, m + b, v + b, grad + b, e - b, alpha, one_minus_beta_1,
               one_minus_beta_2, epsilon);
    });
}

double adam_step_size(double learning_rate, double beta_1, double beta_2, int64_t step) {
    // Keras' Adam: alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), here in double so that the
    // bias correction of early steps is exact before the single rounding to float.
    const double t = static_cast<double>(step);
    return learning_rate * std::sqrt(1.0 - std::pow(beta_2, t)) / (1.0 - std::pow(beta_1, t));
}

}  // namespace fastnn
