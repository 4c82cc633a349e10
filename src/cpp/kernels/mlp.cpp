// The dense-stack training step and inference: every GEMM runs with its epilogue (bias and
// activation forward, the activation's derivative backward), so no activation or mask is stored
// or re-read apart from each layer's output.
#include "mlp.h"

#include <math.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "config.h"
#include "gemm.h"
#include "optim.h"
#include "reduce.h"
#include "softmax_xent.h"
#include "threadpool.h"

namespace fastnn {

namespace {

BinaryOp grad_of(UnaryOp act) {
    switch (act) {
        case UnaryOp::relu: return BinaryOp::relu_grad;
        case UnaryOp::sigmoid: return BinaryOp::sigmoid_grad;
        case UnaryOp::tanh: return BinaryOp::tanh_grad;
        default: return BinaryOp::count;
    }
}

// Rows rows[0:B] of src (row stride ld, width w) into dst (B x w, contiguous).
void gather_rows(float* dst, const float* src, int64_t ld, int64_t w, const int64_t* rows,
                 int64_t B) {
    parallel_rows(B, w, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN / 2, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i)
            std::memcpy(dst + i * w, src + rows[i] * ld, static_cast<size_t>(w) * sizeof(float));
    });
}

int64_t argmax_row(const float* z, int64_t K) {
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
        if (z[k] > z[best]) best = k;
    return best;
}

}  // namespace

void optimizer_update(const OptimizerStep& s) {
    const float* h = s.h;
    switch (s.kind) {
        case OptimizerKind::sgd: sgd_update(s.param, s.slot0, s.grad, s.n, h[0], h[1], s.nesterov); break;
        case OptimizerKind::rmsprop:
            rmsprop_update(s.param, s.slot0, s.slot1, s.grad, s.n, h[0], h[1], h[2], h[3], h[4]);
            break;
        case OptimizerKind::adagrad: adagrad_update(s.param, s.slot0, s.grad, s.n, h[0], h[1]); break;
        case OptimizerKind::adam: adam_update(s.param, s.slot0, s.slot1, s.grad, s.n, h[0], h[1], h[2], h[3]); break;
        default: throw std::invalid_argument("unknown optimizer kind");
    }
}

Mlp::Mlp(std::vector<DenseLayer> layers, MlpLoss loss) : layers_(std::move(layers)), loss_(loss) {
    if (layers_.empty()) throw std::invalid_argument("an MLP needs at least one layer");
    for (size_t l = 1; l < layers_.size(); ++l)
        if (layers_[l].in != layers_[l - 1].out)
            throw std::invalid_argument("layer " + std::to_string(l) + " takes " +
                                        std::to_string(layers_[l].in) + " inputs but the layer "
                                        "before gives " + std::to_string(layers_[l - 1].out));
    z_.resize(layers_.size());
    dz_.resize(layers_.size());
}

void Mlp::reserve(int64_t B) {
    if (B <= capacity_) return;
    x_.get(B * layers_.front().in);
    int64_t narrow = 0;
    for (const DenseLayer& d : layers_)
        if (d.out <= MLP_NARROW_OUT && d.in * d.out > narrow) narrow = d.in * d.out;
    if (narrow) dw_t_.get(narrow);
    t_.get(B * layers_.back().out);
    for (size_t l = 0; l < layers_.size(); ++l) {
        z_[l].get(B * layers_[l].out);
        dz_[l].get(B * layers_[l].out);
    }
    row_loss_.resize(static_cast<size_t>(B));
    labels_.resize(static_cast<size_t>(B));
    capacity_ = B;
}

void Mlp::forward(const float* x, int64_t ldx, int64_t B) {
    const size_t L = layers_.size();
    const float* h = x;
    int64_t ldh = ldx;
    for (size_t l = 0; l < L; ++l) {
        const DenseLayer& d = layers_[l];
        GemmEpilogue ep;
        ep.bias = d.b;
        if (l + 1 < L) ep.act = d.act;
        float* z = z_[l].data();
        sgemm(B, d.out, d.in, 1.0f, h, ldh, 1, d.w, d.out, 1, 0.0f, z, d.out, &ep);
        h = z;
        ldh = d.out;
    }
}

double Mlp::loss_and_grad(const int64_t* labels, const float* t, int64_t ldt, int64_t B,
                          int64_t* correct) {
    const int64_t K = layers_.back().out;
    const float* z = z_.back().data();
    float* g = dz_.back().data();
    *correct = 0;
    if (loss_ == MlpLoss::softmax_xent) {
        softmax_xent_forward(g, row_loss_.data(), z, labels, labels ? nullptr : t, B, K);
        double sum = 0.0;
        for (int64_t i = 0; i < B; ++i) {
            sum += row_loss_[static_cast<size_t>(i)];
            const int64_t truth = labels ? labels[i] : argmax_row(t + i * ldt, K);
            *correct += argmax_row(z + i * K, K) == truth;
        }
        return sum;
    }
    // Element-wise losses over B x K outputs, gradient scaled by the mean's 1 / (B K).
    const double count = static_cast<double>(B) * static_cast<double>(K);
    const float inv = static_cast<float>(1.0 / count);
    double sum = 0.0;
    for (int64_t i = 0; i < B; ++i) {
        for (int64_t k = 0; k < K; ++k) {
            const float zi = z[i * K + k], ti = t[i * ldt + k];
            if (loss_ == MlpLoss::sigmoid_bce) {
                // log(1 + exp(-|z|)) + max(z, 0) - z t: no overflow for any z
                sum += static_cast<double>(fmaxf(zi, 0.0f) - zi * ti + log1pf(expf(-fabsf(zi))));
                const float p = zi >= 0.0f ? 1.0f / (1.0f + expf(-zi)) : expf(zi) / (1.0f + expf(zi));
                g[i * K + k] = (p - ti) * inv;
            } else {
                const float e = zi - ti;
                sum += static_cast<double>(e) * static_cast<double>(e);
                g[i * K + k] = 2.0f * e * inv;
            }
        }
    }
    return sum / static_cast<double>(K);
}

MlpStepResult Mlp::train_step(const float* x, int64_t n_x, int64_t ldx, const int64_t* rows,
                              int64_t B, const int64_t* labels, const float* t, int64_t ldt,
                              const OptimizerStep& opt) {
    const int64_t K = layers_.back().out;
    if (B <= 0) throw std::invalid_argument("a training step needs at least one row");
    for (int64_t i = 0; i < B; ++i) {
        if (rows[i] < 0 || rows[i] >= n_x)
            throw std::out_of_range("row index " + std::to_string(rows[i]) + " is out of range for " +
                                    std::to_string(n_x) + " samples");
        if (labels && (labels[rows[i]] < 0 || labels[rows[i]] >= K))
            throw std::out_of_range("label " + std::to_string(labels[rows[i]]) + " of sample " +
                                    std::to_string(rows[i]) + " is out of range for " +
                                    std::to_string(K) + " classes");
    }
    reserve(B);
    gather_rows(x_.data(), x, ldx, layers_.front().in, rows, B);
    if (labels) {
        for (int64_t i = 0; i < B; ++i) labels_[static_cast<size_t>(i)] = labels[rows[i]];
    } else {
        gather_rows(t_.data(), t, ldt, K, rows, B);
    }
    forward(x_.data(), layers_.front().in, B);
    MlpStepResult r{};
    r.loss_sum = loss_and_grad(labels ? labels_.data() : nullptr, t_.data(), K, B, &r.correct);

    for (size_t l = layers_.size(); l-- > 0;) {
        const DenseLayer& d = layers_[l];
        const float* h = l ? z_[l - 1].data() : x_.data();  // this layer's input, B x in
        const float* dz = dz_[l].data();
        if (l > 0) {
            // dz of the layer below = (dz W^T) * act'(its output), the derivative in the epilogue.
            GemmEpilogue ep;
            ep.act_grad = grad_of(layers_[l - 1].act);
            ep.y = z_[l - 1].data();
            ep.ldy = d.in;
            sgemm(B, d.in, d.out, 1.0f, dz, d.out, 1, d.w, 1, d.out, 0.0f, dz_[l - 1].data(), d.in,
                  ep.act_grad == BinaryOp::count ? nullptr : &ep);
        }
        // dW = h^T dz, h read through transposed strides (nothing materialised).
        if (d.out <= MLP_NARROW_OUT) {
            float* t = dw_t_.data();
            sgemm(d.out, d.in, B, 1.0f, dz, 1, d.out, h, d.in, 1, 0.0f, t, d.in);
            for (int64_t i = 0; i < d.in; ++i)
                for (int64_t j = 0; j < d.out; ++j) d.dw[i * d.out + j] = t[j * d.in + i];
        } else {
            sgemm(d.in, d.out, B, 1.0f, h, 1, d.in, dz, d.out, 1, 0.0f, d.dw, d.out);
        }
        if (d.db) sum_forward(d.db, dz, 1, B, d.out);
    }
    // One pass over the flat buffers, split over the pool. (Updating each row of W inside the
    // weight-gradient GEMM's epilogue measured no faster: the update is bound by its square
    // roots and divisions, not by memory.)
    optimizer_update(opt);
    return r;
}

void Mlp::predict(const float* x, int64_t n, int64_t ldx, float* out) {
    const int64_t K = layers_.back().out;
    // Blocks of rows small enough that each layer's output stays in cache for the next layer.
    const int64_t block = 512;
    reserve(n < block ? n : block);
    for (int64_t r0 = 0; r0 < n; r0 += block) {
        const int64_t m = n - r0 < block ? n - r0 : block;
        forward(x + r0 * ldx, ldx, m);
        const float* z = z_.back().data();
        float* o = out + r0 * K;
        if (loss_ == MlpLoss::softmax_xent) {
            softmax_forward(o, z, m, K);
        } else if (loss_ == MlpLoss::sigmoid_bce) {
            elementwise_loops().unary[static_cast<int>(UnaryOp::sigmoid)](o, z, 1, m * K);
        } else {
            std::memcpy(o, z, static_cast<size_t>(m * K) * sizeof(float));
        }
    }
}

}  // namespace fastnn
