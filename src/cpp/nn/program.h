// A model's graph compiled to C++: a list of steps in topological order over values (B x width
// row-major buffers), the losses of its outputs and the optimizer update. One call runs a whole
// training step (train_step), an evaluation batch (test_step) or inference (predict); scratch is
// allocated for the largest batch seen and then reused, so a warm step allocates nothing.
//
// Each step calls the same forward/backward pair that the matching layer calls one op at a time
// (dense.h, dropout.h, the element-wise kernels). The backward pass visits the steps in reverse;
// a value's gradient is written by its first contribution and added to by the others, and the
// last contribution, when it is a dense layer's input gradient, multiplies in the derivative of
// the activation of the layer that made the value, in the same GEMM epilogue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../kernels/memory.h"
#include "losses.h"
#include "optimizer_step.h"

namespace fastnn {

enum class StepKind : int {
    input = 0,    // gathers the batch's rows of one model input
    dense,        // act(x w + b)
    activation,   // act(x)
    dropout,      // x * mask while training, x otherwise
    add, subtract, multiply, average,  // of equally wide inputs
    concatenate,  // along the last axis
    count
};
enum class Activation : int { linear = 0, relu, sigmoid, tanh, softmax, count };
enum class MetricKind : int { none = 0, categorical_accuracy, binary_accuracy, count };

struct ProgramStep {
    StepKind kind = StepKind::count;
    std::vector<int> in;                    // the values it reads
    int out = -1;                           // the value it writes
    int input = -1;                         // input: the model input it gathers
    Activation act = Activation::linear;    // dense (never softmax) and activation
    int64_t w = -1, b = -1;                 // dense: offsets of the kernel (D x U) and the bias
                                            // (-1: none) in the parameters
    bool trainable = false;                 // dense: gradients go to the same offsets in grads
    float rate = 0.0f;                      // dropout
    uint64_t* state = nullptr;              // dropout: {seed, training calls so far}
};

struct ProgramOutput {
    int z = -1;                            // the value the output's activation reads
    Activation act = Activation::linear;    // predictions p = act(z)
    LossKind loss = LossKind::none;         // softmax_xent and sigmoid_bce read z; mse, mae read p
    float weight = 1.0f;                    // the loss weight
    MetricKind metric = MetricKind::none;   // counted in C++ (other metrics read predictions())
};

// l1 * sum|w| + l2 * sum w^2 over the n parameters at offset w, which are trainable.
struct ProgramRegularizer {
    int64_t w = 0, n = 0;
    float l1 = 0.0f, l2 = 0.0f;
};

// One dataset's arrays: each model input (n rows, row stride ldx[i], contiguous rows) and each
// output's targets (LossTargets over n rows).
struct ProgramData {
    int64_t n = 0;
    std::vector<const float*> x;
    std::vector<int64_t> ldx;
    std::vector<LossTargets> targets;
};

class Program {
public:
    // widths[v]: the width of value v. params holds every weight, grads the first n_trainable
    // (the trainable ones come first). Throws std::invalid_argument on an inconsistent graph.
    Program(std::vector<int64_t> widths, std::vector<ProgramStep> steps,
            std::vector<ProgramOutput> outputs, std::vector<ProgramRegularizer> regularizers,
            float* params, int64_t n_params, float* grads, int64_t n_trainable);

    // stats: 2 doubles per output (its summed weighted loss, its summed metric) and the
    // regularization penalty. opt may be null (gradients only). Checks every row index and
    // label before writing anything (std::out_of_range).
    void train_step(const ProgramData& d, const int64_t* rows, int64_t B, const OptimizerStep* opt,
                    double* stats);
    // The same without the backward pass and the update, and with dropout off.
    void test_step(const ProgramData& d, const int64_t* rows, int64_t B, double* stats);
    // out[o] (n x K_o, contiguous): the predictions for n rows of the inputs x[i] (row stride
    // ldx[i]), in blocks that keep each layer's output in cache.
    void predict(const std::vector<const float*>& x, const std::vector<int64_t>& ldx, int64_t n,
                 const std::vector<float*>& out);

    int n_inputs() const { return static_cast<int>(input_values_.size()); }
    int n_outputs() const { return static_cast<int>(outputs_.size()); }
    int64_t input_width(int i) const { return widths_[static_cast<size_t>(input_values_[static_cast<size_t>(i)])]; }
    int64_t output_width(int o) const { return widths_[static_cast<size_t>(outputs_[static_cast<size_t>(o)].z)]; }
    LossKind output_loss_kind(int o) const { return outputs_[static_cast<size_t>(o)].loss; }
    // The last train_step / test_step: its row count, output o's predictions (rows x K) and its
    // gathered target rows (null when it has labels) or labels (null when it has rows).
    int64_t last_rows() const { return last_rows_; }
    const float* predictions(int o);
    const float* target_rows(int o) const {
        return cur_rows_[static_cast<size_t>(o)] ? tgt_[static_cast<size_t>(o)] : nullptr;
    }
    const int64_t* target_labels(int o) const {
        return cur_labels_[static_cast<size_t>(o)] ? labels_[static_cast<size_t>(o)].data() : nullptr;
    }

private:
    struct Val {
        float* p;
        int64_t ld;
    };
    void analyse();
    void reserve(int64_t B);
    void check(const ProgramData& d, const int64_t* rows, int64_t B) const;
    void begin(const ProgramData& d);
    void gather(const ProgramData& d, const int64_t* rows, int64_t B);
    void forward(int64_t B, bool training);
    void losses(int64_t B, bool backward, double* stats);
    void backward(int64_t B);
    double regularize(bool backward);
    void contribute_scaled(int v, const float* src, float scale, int64_t B);
    void contribute_product(int v, const float* a, const float* b, int64_t B);
    void contribute_activation_grad(int v, const float* dy, const float* y, Activation act,
                                    int64_t B);
    float* grad_target(int v, bool* accumulate);
    void contributed(int v);

    std::vector<int64_t> widths_;
    std::vector<ProgramStep> steps_;
    std::vector<ProgramOutput> outputs_;
    std::vector<ProgramRegularizer> regularizers_;
    float* params_;
    int64_t n_params_;
    float* grads_;
    int64_t n_trainable_;

    // From the graph (analyse()):
    std::vector<int> input_values_;     // the value of each model input
    std::vector<int> producer_;         // the step that writes each value
    std::vector<char> wants_grad_;      // a value whose gradient reaches a trainable weight
    std::vector<char> runs_backward_;   // per step
    std::vector<int> contributions_;    // per value: gradient contributions in one step
    std::vector<int> param_set_;        // per step: its weights' index among the distinct ones
    std::vector<int> reg_param_set_;    // per regularizer: the same index, or -1
    int n_param_sets_ = 0;

    // Scratch for the largest batch seen (capacity_ rows):
    int64_t capacity_ = 0;
    FloatBuffer arena_;
    std::vector<Val> val_;              // each value's rows in this run
    std::vector<float*> fwd_, grad_, mask_;
    std::vector<float*> pred_, tgt_, sw_, tmp_out_;
    float* tmp_ = nullptr;              // an accumulated contribution (capacity x widest value)
    std::vector<std::vector<int64_t>> labels_;
    std::vector<double> row_loss_;
    std::vector<double> partials_;      // the regularizers' chunk sums
    int64_t last_rows_ = 0;
    std::vector<char> cur_labels_, cur_rows_, cur_weights_;  // per output: what the data has
    std::vector<char> pred_done_;                 // per output: pred_ holds this step's

    // Per step:
    std::vector<char> written_, act_done_, param_written_;
    std::vector<int> left_;
};

}  // namespace fastnn
