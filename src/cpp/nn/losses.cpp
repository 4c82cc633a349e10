// Output losses and their gradients for the compiled program.
#include "losses.h"

#include <math.h>

#include "../kernels/config.h"
#include "../kernels/softmax_xent.h"
#include "../kernels/threadpool.h"

namespace fastnn {

namespace {

template <class Rows>
void for_rows(int64_t B, int64_t K, Rows rows) {
    parallel_rows(B, K, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, rows);
}

float sigmoid(float z) {
    return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

}  // namespace

void output_loss(LossKind kind, double* row_loss, float* g, const float* input,
                 const LossTargets& t, int64_t B, int64_t K, float scale) {
    if (B <= 0) return;
    if (kind == LossKind::softmax_xent) {
        // Writes (softmax(z) - y) / B and each row's loss; then the weights.
        softmax_xent_forward(g, row_loss, input, t.labels, t.labels ? nullptr : t.rows, B, K);
        const float base = scale * static_cast<float>(B);  // the kernel already divided by B
        if (base == 1.0f && !t.weights) return;
        for_rows(B, K, [&](int64_t r0, int64_t r1) {
            for (int64_t i = r0; i < r1; ++i) {
                const float w = t.weights ? t.weights[i] : 1.0f;
                const float s = base * w;
                float* gi = g + i * K;
                for (int64_t k = 0; k < K; ++k) gi[k] *= s;
                row_loss[i] *= static_cast<double>(w);
            }
        });
        return;
    }
    // Element-wise losses: l_i = mean over k of e(input_ik, t_ik).
    const float per = scale / static_cast<float>(K);
    const double inv_k = 1.0 / static_cast<double>(K);
    for_rows(B, K, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            const float w = t.weights ? t.weights[i] : 1.0f;
            const float s = per * w;
            const float* x = input + i * K;
            const float* y = t.rows + i * K;
            float* gi = g + i * K;
            double sum = 0.0;
            for (int64_t k = 0; k < K; ++k) {
                const float xi = x[k], yi = y[k];
                if (kind == LossKind::sigmoid_bce) {
                    // max(z, 0) - z y + log(1 + exp(-|z|)): no overflow for any z
                    sum += static_cast<double>(fmaxf(xi, 0.0f) - xi * yi + log1pf(expf(-fabsf(xi))));
                    gi[k] = (sigmoid(xi) - yi) * s;
                } else if (kind == LossKind::mse) {
                    const float e = xi - yi;
                    sum += static_cast<double>(e) * static_cast<double>(e);
                    gi[k] = 2.0f * e * s;
                } else {  // mae
                    const float e = xi - yi;
                    sum += fabs(static_cast<double>(e));
                    gi[k] = e > 0.0f ? s : (e < 0.0f ? -s : 0.0f);
                }
            }
            row_loss[i] = sum * inv_k * static_cast<double>(w);
        }
    });
}

}  // namespace fastnn
