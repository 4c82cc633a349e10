// Fused, in-place optimizer updates over flat float32 buffers: Keras' SGD, RMSprop, Adagrad, Adam.
#pragma once

#include <cstdint>

namespace fastnn {

// Every buffer is flat and holds n floats: param (the weights w), the optimizer's state slots, and
// grad (g, read only). Each update is one pass that reads every buffer once and writes param and
// the slots in place, element by element, so the result does not depend on the thread count.
// Buffers must not overlap one another (the bindings check; fastnn.ops copies an aliased grad).
// Arithmetic is float32 with one rounding per operation, in Keras' order of operations; no FMA
// contraction, so the generic and AVX2 paths give identical bits. Hyper-parameters arrive as
// floats; complements such as (1 - rho) are computed by the caller in double and rounded once,
// as Keras does with its Python-float hyper-parameters.

// SGD (keras.optimizers.SGD). velocity == nullptr (Keras: momentum == 0): w -= g * lr.
// Otherwise v = v * momentum - g * lr, then w += v, or with nesterov w += v * momentum - g * lr.
// The caller picks the variant from its unrounded momentum, as Keras tests its Python float: a
// momentum of 1e-300 is "momentum" even though it rounds to 0.0f.
void sgd_update(float* param, float* velocity, const float* grad, int64_t n,
                float learning_rate, float momentum, bool nesterov);

// RMSprop (keras.optimizers.RMSprop, not centered), epsilon inside the square root:
//   v = rho * v + (1 - rho) * g^2;   increment = lr * g / sqrt(v + epsilon)
//   momentum_buffer != nullptr (Keras: momentum > 0): m = momentum * m + increment; w -= m.
//   momentum_buffer == nullptr: w -= increment.
void rmsprop_update(float* param, float* velocity, float* momentum_buffer, const float* grad,
                    int64_t n, float learning_rate, float rho, float one_minus_rho,
                    float momentum, float epsilon);

// Adagrad (keras.optimizers.Adagrad): acc += g^2; w -= lr * g / sqrt(acc + epsilon).
// Keras starts the accumulator at initial_accumulator_value = 0.1; that is the caller's job.
void adagrad_update(float* param, float* accumulator, const float* grad, int64_t n,
                    float learning_rate, float epsilon);

// Adam (keras.optimizers.Adam, Kingma & Ba 2014, bias correction folded into the step size):
//   m += (g - m) * (1 - beta_1);   v += (g^2 - v) * (1 - beta_2)
//   w -= m * alpha / (sqrt(v) + epsilon),   alpha = adam_step_size(lr, beta_1, beta_2, t).
void adam_update(float* param, float* m, float* v, const float* grad, int64_t n, float alpha,
                 float one_minus_beta_1, float one_minus_beta_2, float epsilon);

// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) for the 1-based step t, in double.
double adam_step_size(double learning_rate, double beta_1, double beta_2, int64_t step);

}  // namespace fastnn
