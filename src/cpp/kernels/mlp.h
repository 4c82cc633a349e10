// A stack of dense layers run as one call: the training step (gather a batch, forward, fused
// loss, backward, optimizer update) and inference. Parameters, gradients and optimizer slots are
// flat float32 buffers owned by the caller; scratch is allocated once for the largest batch.
#pragma once

#include <cstdint>
#include <vector>

#include "elementwise.h"
#include "memory.h"

namespace fastnn {

struct DenseLayer {
    int64_t in, out;
    const float* w;  // in x out, row-major
    const float* b;  // out, or nullptr (no bias)
    float* dw;       // gradients, same layouts
    float* db;
    UnaryOp act;     // relu, sigmoid or tanh; UnaryOp::count is linear. The last layer's output
                     // activation belongs to the loss instead.
};

// The output activation and the loss, fused: softmax + cross-entropy (integer labels or target
// rows), sigmoid + binary cross-entropy, identity + mean squared error. Each is a mean over the
// batch and (for the last two) over the outputs, as Keras computes it.
enum class MlpLoss : int { softmax_xent = 0, sigmoid_bce, mse, count };

enum class OptimizerKind : int { sgd = 0, rmsprop, adagrad, adam, count };

// One update of the flat buffer: the arguments of the optim.h kernel of that kind.
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

struct MlpStepResult {
    double loss_sum;  // the batch's summed per-sample loss
    int64_t correct;  // softmax_xent: rows whose largest logit is the true class; else 0
};

class Mlp {
public:
    Mlp(std::vector<DenseLayer> layers, MlpLoss loss);

    // One training step on rows `rows[0:B]` of x (row stride ldx): the batch is gathered, then
    // forward, loss, backward (gradients into every dw/db) and the optimizer update.
    // Targets: labels (integers in [0, out), rows indexed by `rows` too) for softmax_xent, or
    // target rows t (row stride ldt, out wide) for any loss. Throws std::out_of_range on a bad
    // row index or label before anything is written.
    MlpStepResult train_step(const float* x, int64_t n_x, int64_t ldx, const int64_t* rows,
                             int64_t B, const int64_t* labels, const float* t, int64_t ldt,
                             const OptimizerStep& opt);

    // Outputs (after the output activation) for n rows of x (row stride ldx) into out (n x out).
    void predict(const float* x, int64_t n, int64_t ldx, float* out);

    // The last training step's logits (pre-activation outputs), B x out.
    const float* logits() const { return z_.empty() ? nullptr : z_.back().data(); }

private:
    void forward(const float* x, int64_t ldx, int64_t B);
    double loss_and_grad(const int64_t* labels, const float* t, int64_t ldt, int64_t B,
                         int64_t* correct);
    void reserve(int64_t B);

    std::vector<DenseLayer> layers_;
    MlpLoss loss_;
    int64_t capacity_ = 0;          // the largest batch the scratch holds
    FloatBuffer x_, t_;             // the gathered batch and its target rows
    std::vector<FloatBuffer> z_;    // each layer's output (after its activation; logits last)
    std::vector<FloatBuffer> dz_;   // each layer's gradient w.r.t. its pre-activation
    FloatBuffer dw_t_;              // a narrow layer's weight gradient, transposed
    std::vector<double> row_loss_;
    std::vector<int64_t> labels_;   // the batch's gathered labels
};

}  // namespace fastnn
