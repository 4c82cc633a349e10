// A model's graph compiled to C++: a list of steps in topological order over values (B x width
// row-major buffers), the losses of its outputs and the optimizer update. A training step is two
// calls (gradients, then update), an evaluation batch one (test_step), inference one (predict);
// scratch (the caller's workspace) is allocated for the largest batch seen and then reused, so a
// warm step allocates nothing.
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

#include "../kernels/gemm.h"
#include "../kernels/memory.h"
#include "../kernels/spmm.h"
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
    GemmPrecision precision = GemmPrecision::float32;  // dense: its GEMMs' (forward and backward)
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

// One dataset's arrays: each model input (n rows, row stride ldx[i], contiguous rows; or, when
// csr[i].indptr is set, a sparse matrix whose rows 0..n-1 are the samples, read by dense steps
// only: see sparse_input_ok) and each output's targets (LossTargets over n rows).
struct ProgramData {
    int64_t n = 0;
    std::vector<const float*> x;
    std::vector<int64_t> ldx;
    std::vector<CsrRows> csr;
    std::vector<LossTargets> targets;
};

class Program;

// A caller's scratch for one program: the values, gradients and targets of the batch it runs,
// sized for the largest batch it has seen. The program only reads its graph, so threads may run
// it at once, each with its own workspace (a training step also writes the gradients and the
// parameters: one at a time).
class ProgramWorkspace {
public:
    explicit ProgramWorkspace(const Program& program);

    // The last training or test step run with this workspace: its row count (0 after predict).
    int64_t last_rows() const { return last_rows_; }

private:
    friend class Program;
    struct Val {
        float* p;
        int64_t ld;
        CsrRows sparse;  // a sparse input's rows (p is null), else indptr is null
    };
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
    std::vector<char> sparse_;  // per input: the current data's is sparse (it gets no buffer)
    std::vector<CompactRows> compact_;  // per input: a dense batch's rows made sparse
};

// Every method is const: a program is its graph, fixed at construction; what a run writes is in
// the workspace it is given, in the gradients and, at the end of a train step, in the parameters.
class Program {
public:
    // widths[v]: the width of value v. params holds every weight, grads the first n_trainable
    // (the trainable ones come first). Throws std::invalid_argument on an inconsistent graph.
    Program(std::vector<int64_t> widths, std::vector<ProgramStep> steps,
            std::vector<ProgramOutput> outputs, std::vector<ProgramRegularizer> regularizers,
            float* params, int64_t n_params, float* grads, int64_t n_trainable);

    // A training step in two calls. gradients: the forward pass, the losses and the backward
    // pass of B rows, into the gradient buffer; stats gets 2 doubles per output (its summed
    // weighted loss, its summed metric). It checks every row index and label before writing
    // anything (std::out_of_range), and reads the parameters only. update: the regularizers'
    // penalties (into the last double of stats, and their gradients), then the optimizer's step
    // (opt may be null: gradients only); it writes the parameters, and always runs to its end.
    // One training step at a time: the gradient buffer is shared.
    void gradients(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B,
                   double* stats) const;
    void update(ProgramWorkspace& ws, const OptimizerStep* opt, double* stats) const;
    // The same without the backward pass and the update, and with dropout off.
    void test_step(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B,
                   double* stats) const;
    // out[o] (n x K_o, contiguous): the predictions for n rows of the inputs x[i] (row stride
    // ldx[i]; or the sparse rows csr[i] where its indptr is set), in blocks that keep each
    // layer's output in cache.
    void predict(ProgramWorkspace& ws, const std::vector<const float*>& x,
                 const std::vector<int64_t>& ldx, const std::vector<CsrRows>& csr, int64_t n,
                 const std::vector<float*>& out) const;

    // Whether input i may be given as a sparse matrix: only dense steps read it.
    bool sparse_input_ok(int i) const;

    int n_inputs() const { return static_cast<int>(input_values_.size()); }
    int n_outputs() const { return static_cast<int>(outputs_.size()); }
    int64_t input_width(int i) const { return widths_[static_cast<size_t>(input_values_[static_cast<size_t>(i)])]; }
    int64_t output_width(int o) const { return widths_[static_cast<size_t>(outputs_[static_cast<size_t>(o)].z)]; }
    LossKind output_loss_kind(int o) const { return outputs_[static_cast<size_t>(o)].loss; }
    // Of the workspace's last training or test step: output o's predictions (last_rows x K),
    // and its gathered target rows (null when it has labels) or labels (null when it has rows).
    const float* predictions(ProgramWorkspace& ws, int o) const;
    const float* target_rows(const ProgramWorkspace& ws, int o) const {
        return ws.cur_rows_[static_cast<size_t>(o)] ? ws.tgt_[static_cast<size_t>(o)] : nullptr;
    }
    const int64_t* target_labels(const ProgramWorkspace& ws, int o) const {
        return ws.cur_labels_[static_cast<size_t>(o)] ? ws.labels_[static_cast<size_t>(o)].data() : nullptr;
    }

private:
    friend class ProgramWorkspace;
    using Val = ProgramWorkspace::Val;
    void analyse();
    void init(ProgramWorkspace& ws) const;
    void reserve(ProgramWorkspace& ws, int64_t B) const;
    void set_sparse(ProgramWorkspace& ws, const std::vector<CsrRows>& csr) const;
    void check(const ProgramData& d, const int64_t* rows, int64_t B) const;
    void begin(ProgramWorkspace& ws, const ProgramData& d) const;
    void gather(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B) const;
    void forward(ProgramWorkspace& ws, int64_t B, bool training) const;
    void losses(ProgramWorkspace& ws, int64_t B, bool backward, double* stats) const;
    void backward(ProgramWorkspace& ws, int64_t B) const;
    double regularize(ProgramWorkspace& ws, bool backward) const;
    void contribute_scaled(ProgramWorkspace& ws, int v, const float* src, float scale, int64_t B) const;
    void contribute_product(ProgramWorkspace& ws, int v, const float* a, const float* b, int64_t B) const;
    void contribute_activation_grad(ProgramWorkspace& ws, int v, const float* dy, const float* y,
                                    Activation act, int64_t B) const;
    float* grad_target(ProgramWorkspace& ws, int v, bool* accumulate) const;
    void contributed(ProgramWorkspace& ws, int v) const;

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
    std::vector<char> compact_ok_;      // per input: a dense batch may run as sparse rows
    std::vector<int> producer_;         // the step that writes each value
    std::vector<char> wants_grad_;      // a value whose gradient reaches a trainable weight
    std::vector<char> runs_backward_;   // per step
    std::vector<int> contributions_;    // per value: gradient contributions in one step
    std::vector<int> param_set_;        // per step: its weights' index among the distinct ones
    std::vector<int> reg_param_set_;    // per regularizer: the same index, or -1
    int n_param_sets_ = 0;
};

}  // namespace fastnn
