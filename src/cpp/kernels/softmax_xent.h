// Softmax and fused softmax cross-entropy over the rows of an N x K array (N rows, K classes).
#pragma once

#include <cstdint>

namespace fastnn {

// y[n, :] = exp(x[n, :] - max) / sum(exp(x[n, :] - max)). x and y are N x K, C-contiguous;
// y may be x (in place).
void softmax_forward(float* y, const float* x, int64_t N, int64_t K);

// One pass per row over logits z (N x K): the mean cross-entropy and its gradient.
//   labels (N integer classes, each in [0, K)):  loss_n = logsumexp(z_n) - z_n[label_n]
//   targets (N x K probability rows):            loss_n = -sum_k t_nk * (z_nk - logsumexp(z_n))
// grad (N x K) = (softmax(z_n) * sum_k t_nk - t_n) / N  (one-hot t for labels).
// Exactly one of labels / targets is non-null. row_loss is N doubles of scratch; the mean is
// summed over it in order, so it does not depend on the thread count. Returns the mean.
double softmax_xent_forward(float* grad, double* row_loss, const float* z, const int64_t* labels,
                            const float* targets, int64_t N, int64_t K);

}  // namespace fastnn
