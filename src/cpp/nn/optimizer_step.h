// One optimizer update of a model's flat parameter buffer, as the compiled program runs it.
#pragma once

#include <cstdint>

namespace fastnn {

enum class OptimizerKind : int { sgd = 0, rmsprop, adagrad, adam, count };

// The arguments of the optim.h kernel of that kind:
//   sgd:     slot0 velocity (or null), h0 lr, h1 momentum, nesterov
//   rmsprop: slot0 velocity, slot1 momentum buffer (or null), h0 lr, h1 rho, h2 1 - rho,
//            h3 momentum, h4 epsilon
//   adagrad: slot0 accumulator, h0 lr, h1 epsilon
//   adam:    slot0 m, slot1 v, h0 alpha (step size of this step), h1 1 - beta_1, h2 1 - beta_2,
//            h3 epsilon
struct OptimizerStep {
    OptimizerKind kind;
    float* param;
    const float* grad;
    int64_t n;
    float* slot0;
    float* slot1;
    float h[5];
    bool nesterov;
};

void optimizer_update(const OptimizerStep& s);

}  // namespace fastnn
