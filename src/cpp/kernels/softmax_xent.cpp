// Numerically stable softmax and the fused softmax + cross-entropy (loss and gradient in one pass).
#include "softmax_xent.h"

#include <math.h>

#include "config.h"
#include "threadpool.h"

namespace fastnn {

namespace {

// e[k] = exp(z[k] - max(z)) for one row; returns the sum of e (in double) and the max. With the
// max subtracted nothing overflows and the largest term is 1.
double exp_shifted(float* e, const float* z, int64_t K, float* max_out) {
    float m = z[0];
    for (int64_t k = 1; k < K; ++k) m = z[k] > m ? z[k] : m;
    double total = 0.0;
    for (int64_t k = 0; k < K; ++k) {
        e[k] = expf(z[k] - m);
        total += e[k];
    }
    *max_out = m;
    return total;
}

template <class Rows>
void for_rows(int64_t N, int64_t K, Rows rows) {
    parallel_rows(N, K, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, rows);
}

}  // namespace

void softmax_forward(float* y, const float* x, int64_t N, int64_t K) {
    if (K <= 0) return;
    for_rows(N, K, [&](int64_t r0, int64_t r1) {
        for (int64_t n = r0; n < r1; ++n) {
            float* yn = y + n * K;
            float m;
            const double total = exp_shifted(yn, x + n * K, K, &m);
            const float scale = static_cast<float>(1.0 / total);
            for (int64_t k = 0; k < K; ++k) yn[k] *= scale;
        }
    });
}

double softmax_xent_forward(float* grad, double* row_loss, const float* z, const int64_t* labels,
                            const float* targets, int64_t N, int64_t K) {
    if (N <= 0) return NAN;
    const float inv_n = 1.0f / static_cast<float>(N);
    for_rows(N, K, [&](int64_t r0, int64_t r1) {
        for (int64_t n = r0; n < r1; ++n) {
            const float* zn = z + n * K;
            float* gn = grad + n * K;
            float m;
            const double total = exp_shifted(gn, zn, K, &m);
            const double lse = m + log(total);
            const float scale = static_cast<float>(1.0 / total);
            if (labels) {
                const int64_t y = labels[n];
                row_loss[n] = lse - zn[y];
                for (int64_t k = 0; k < K; ++k) gn[k] = gn[k] * scale * inv_n;
                gn[y] -= inv_n;
            } else {
                const float* tn = targets + n * K;
                double loss = 0.0, mass = 0.0;
                for (int64_t k = 0; k < K; ++k) {
                    loss -= static_cast<double>(tn[k]) * (zn[k] - lse);
                    mass += tn[k];
                }
                row_loss[n] = loss;
                const float fmass = static_cast<float>(mass);
                for (int64_t k = 0; k < K; ++k) gn[k] = (gn[k] * scale * fmass - tn[k]) * inv_n;
            }
        }
    });
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) sum += row_loss[n];
    return sum / static_cast<double>(N);
}

}  // namespace fastnn
