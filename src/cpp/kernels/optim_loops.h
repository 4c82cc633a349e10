// The optimizer update loops, written once and compiled twice: baseline (optim.cpp) and AVX2+FMA
// (optim_avx2.cpp). Private to those two files.
//
// Every loop is a static inline function (internal linkage): each translation unit keeps its own
// copy, so the linker can never merge the AVX2 copy into baseline code (SIGILL on older CPUs).
// No std:: templates here for the same reason; the square root is FASTNN_SQRTF (below), which
// the build's -fno-math-errno turns into sqrtss / vsqrtps. The compiler vectorizes these loops
// (4-wide SSE2 on the baseline, 8-wide on AVX2); the updates are memory-bound, so the loop body
// matters less than reading each buffer exactly once.
#pragma once

#include <cstdint>

// The square root: GNU compilers' builtin; MSVC has none, and its std::sqrt(float) is an inline
// function that two translation units could share, so the C library's sqrtf (an intrinsic at /O2).
#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_SQRTF __builtin_sqrtf
#else
#include <math.h>
#define FASTNN_SQRTF sqrtf
#endif

namespace fastnn {

// The update loops of one kernel path over [0, n) of already-offset buffers; see optim.h for the
// formulas. optim.cpp chooses one table per process.
struct OptimLoops {
    void (*sgd)(float* w, const float* g, int64_t n, float lr);
    void (*sgd_momentum)(float* w, float* v, const float* g, int64_t n, float lr, float momentum);
    void (*sgd_nesterov)(float* w, float* v, const float* g, int64_t n, float lr, float momentum);
    void (*rmsprop)(float* w, float* v, const float* g, int64_t n, float lr, float rho,
                    float one_minus_rho, float eps);
    void (*rmsprop_momentum)(float* w, float* v, float* m, const float* g, int64_t n, float lr,
                             float rho, float one_minus_rho, float momentum, float eps);
    void (*adagrad)(float* w, float* acc, const float* g, int64_t n, float lr, float eps);
    void (*adam)(float* w, float* m, float* v, const float* g, int64_t n, float alpha,
                 float one_minus_beta_1, float one_minus_beta_2, float eps);
};

#ifdef FASTNN_HAVE_AVX2
// Defined in optim_avx2.cpp; call only when active_arch() >= Arch::avx2.
const OptimLoops& optim_loops_avx2();
#endif

// Each line below is one float32 operation with its own rounding, in Keras' order. Contraction
// into FMA is switched off: an FMA skips the rounding of the product, which would make the AVX2
// path differ from the baseline (and from numpy) by an ulp, for no speed gain in a memory-bound
// loop.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#elif defined(_MSC_VER)
// Off by default under /fp:precise since Visual Studio 2022; explicit for older ones. It stays off
// to the end of the including file (MSVC has no push / pop for it): harmless, optim.cpp is
// baseline code with no FMA to contract into and optim_avx2.cpp holds nothing else.
#pragma fp_contract(off)
#endif

// Keras SGD, momentum == 0: w -= g * lr.
static inline void optim_sgd_loop(float* __restrict w, const float* __restrict g, int64_t n,
                                  float lr) {
    for (int64_t i = 0; i < n; ++i) w[i] = w[i] - g[i] * lr;
}

// Keras SGD with momentum: v = v * momentum - g * lr; w += v.
static inline void optim_sgd_momentum_loop(float* __restrict w, float* __restrict v,
                                           const float* __restrict g, int64_t n, float lr,
                                           float momentum) {
    for (int64_t i = 0; i < n; ++i) {
        const float vi = v[i] * momentum - g[i] * lr;
        v[i] = vi;
        w[i] = w[i] + vi;
    }
}

// Keras SGD with Nesterov momentum: v = v * momentum - g * lr; w += v * momentum - g * lr.
static inline void optim_sgd_nesterov_loop(float* __restrict w, float* __restrict v,
                                           const float* __restrict g, int64_t n, float lr,
                                           float momentum) {
    for (int64_t i = 0; i < n; ++i) {
        const float step = g[i] * lr;
        const float vi = v[i] * momentum - step;
        v[i] = vi;
        w[i] = w[i] + (vi * momentum - step);
    }
}

// Keras RMSprop: v = rho * v + (1 - rho) * g^2; w -= lr * g / sqrt(v + eps).
static inline void optim_rmsprop_loop(float* __restrict w, float* __restrict v,
                                      const float* __restrict g, int64_t n, float lr, float rho,
                                      float one_minus_rho, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float vi = rho * v[i] + one_minus_rho * (gi * gi);
        v[i] = vi;
        w[i] = w[i] - (lr * gi) / FASTNN_SQRTF(vi + eps);
    }
}

// Keras RMSprop with momentum: as above, then m = momentum * m + increment; w -= m.
static inline void optim_rmsprop_momentum_loop(float* __restrict w, float* __restrict v,
                                               float* __restrict m, const float* __restrict g,
                                               int64_t n, float lr, float rho,
                                               float one_minus_rho, float momentum, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float vi = rho * v[i] + one_minus_rho * (gi * gi);
        v[i] = vi;
        const float mi = momentum * m[i] + (lr * gi) / FASTNN_SQRTF(vi + eps);
        m[i] = mi;
        w[i] = w[i] - mi;
    }
}

// Keras Adagrad: acc += g^2; w -= lr * g / sqrt(acc + eps).
static inline void optim_adagrad_loop(float* __restrict w, float* __restrict acc,
                                      const float* __restrict g, int64_t n, float lr, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float ai = acc[i] + gi * gi;
        acc[i] = ai;
        w[i] = w[i] - (lr * gi) / FASTNN_SQRTF(ai + eps);
    }
}

// Keras Adam: m += (g - m) * (1 - beta_1); v += (g^2 - v) * (1 - beta_2);
// w -= m * alpha / (sqrt(v) + eps), alpha carrying the bias correction of step t.
static inline void optim_adam_loop(float* __restrict w, float* __restrict m, float* __restrict v,
                                   const float* __restrict g, int64_t n, float alpha,
                                   float one_minus_beta_1, float one_minus_beta_2, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i];
        const float mi = m[i] + (gi - m[i]) * one_minus_beta_1;
        const float vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] - (mi * alpha) / (FASTNN_SQRTF(vi) + eps);
    }
}

#if defined(__clang__)
#pragma STDC FP_CONTRACT DEFAULT
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

// This translation unit's copies of the loops, as a table (a constant expression: only addresses).
static constexpr OptimLoops optim_loops_of_this_unit() {
    return {optim_sgd_loop,          optim_sgd_momentum_loop, optim_sgd_nesterov_loop,
            optim_rmsprop_loop,      optim_rmsprop_momentum_loop,
            optim_adagrad_loop,      optim_adam_loop};
}

}  // namespace fastnn
