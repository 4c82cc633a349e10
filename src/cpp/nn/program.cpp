// The compiled program: the graph's analysis, then forward, losses, backward, regularization and
// the optimizer update, over the scratch of the caller's workspace.
#include "program.h"

#include <math.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "../kernels/cancel.h"
#include "../kernels/config.h"
#include "../kernels/elementwise.h"
#include "../kernels/softmax_xent.h"
#include "../kernels/threadpool.h"
#include "dense.h"
#include "dropout.h"

namespace fastnn {

namespace {

const ElementwiseLoops& loops() {
    static const ElementwiseLoops& chosen = elementwise_loops();
    return chosen;
}

UnaryOp unary_of(Activation a) {
    switch (a) {
        case Activation::relu: return UnaryOp::relu;
        case Activation::sigmoid: return UnaryOp::sigmoid;
        case Activation::tanh: return UnaryOp::tanh;
        default: return UnaryOp::count;
    }
}

// fn(out, a, b, n) over B rows of width w; a and b have row strides lda and ldb, out is
// contiguous. One call over everything when the rows are contiguous, in the pool's chunks.
template <class Fn>
void over_rows(int64_t B, int64_t w, int64_t lda, int64_t ldb, Fn fn) {
    if (lda == w && ldb == w) {
        parallel_rows(B * w, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN,
                      [&](int64_t i0, int64_t i1) { fn(i0, i0, i0, i1 - i0); });
        return;
    }
    parallel_rows(B, w, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) fn(r * w, r * lda, r * ldb, w);
    });
}

// y = act(x): B rows of width K, x with row stride ldx, y contiguous.
void activation_forward(float* y, const float* x, int64_t ldx, int64_t B, int64_t K, Activation act) {
    if (act == Activation::softmax) {
        if (ldx == K) {
            softmax_forward(y, x, B, K);
        } else {
            for (int64_t r = 0; r < B; ++r) softmax_forward(y + r * K, x + r * ldx, 1, K);
        }
        return;
    }
    if (act == Activation::linear) {
        for (int64_t r = 0; r < B; ++r)
            std::memcpy(y + r * K, x + r * ldx, static_cast<size_t>(K) * sizeof(float));
        return;
    }
    const unary_loop_fn fn = loops().unary[static_cast<int>(unary_of(act))];
    over_rows(B, K, ldx, ldx, [&](int64_t o, int64_t a, int64_t, int64_t n) { fn(y + o, x + a, 1, n); });
}

// dx = act'(y) applied to dy (B x K, all contiguous); softmax's is its Jacobian-vector product
// y * (dy - sum(dy * y)) per row.
void activation_backward(float* dx, const float* dy, const float* y, int64_t B, int64_t K,
                         Activation act) {
    if (act == Activation::softmax) {
        parallel_rows(B, K, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float* g = dy + r * K;
                const float* p = y + r * K;
                double dot = 0.0;
                for (int64_t k = 0; k < K; ++k) dot += static_cast<double>(g[k]) * p[k];
                const float d = static_cast<float>(dot);
                float* o = dx + r * K;
                for (int64_t k = 0; k < K; ++k) o[k] = p[k] * (g[k] - d);
            }
        });
        return;
    }
    dense_activation_backward(dx, dy, y, B * K, unary_of(act));
}

int64_t argmax_row(const float* z, int64_t K) {
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
        if (z[k] > z[best]) best = k;
    return best;
}

int64_t round_up(int64_t n) { return (n + 15) / 16 * 16; }  // 64-byte aligned segments

// Values are at most this wide, so that B x width and the arena's size are checked against
// overflow with a few multiplications.
constexpr int64_t MAX_WIDTH = int64_t{1} << 31;

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("program: " + what); }

}  // namespace

Program::Program(std::vector<int64_t> widths, std::vector<ProgramStep> steps,
                 std::vector<ProgramOutput> outputs, std::vector<ProgramRegularizer> regularizers,
                 float* params, int64_t n_params, float* grads, int64_t n_trainable)
    : widths_(std::move(widths)), steps_(std::move(steps)), outputs_(std::move(outputs)),
      regularizers_(std::move(regularizers)), params_(params), n_params_(n_params), grads_(grads),
      n_trainable_(n_trainable) {
    analyse();
}

void Program::analyse() {
    const int V = static_cast<int>(widths_.size());
    if (n_trainable_ < 0 || n_trainable_ > n_params_) bad("more trainable parameters than parameters");
    for (int64_t w : widths_)
        if (w < 1 || w > MAX_WIDTH) bad("every value needs a width in [1, 2**31)");
    producer_.assign(static_cast<size_t>(V), -1);
    auto width = [&](int v) { return widths_[static_cast<size_t>(v)]; };
    std::vector<int> inputs;
    for (size_t si = 0; si < steps_.size(); ++si) {
        const ProgramStep& s = steps_[si];
        const std::string at = "step " + std::to_string(si);
        if (s.out < 0 || s.out >= V || producer_[static_cast<size_t>(s.out)] != -1)
            bad(at + " writes a value that does not exist or is written twice");
        for (int v : s.in)
            if (v < 0 || v >= V || producer_[static_cast<size_t>(v)] == -1)
                bad(at + " reads a value no earlier step writes");
        const size_t n_in = s.in.size();
        const int64_t W = width(s.out);
        switch (s.kind) {
            case StepKind::input:
                if (n_in != 0 || s.input != static_cast<int>(inputs.size())) bad(at + ": inputs must come in order");
                inputs.push_back(s.out);
                break;
            case StepKind::dense: {
                if (n_in != 1 || s.act == Activation::softmax || s.act >= Activation::count) bad(at + ": a bad dense step");
                const int64_t D = width(s.in[0]);
                const int64_t limit = s.trainable ? n_trainable_ : n_params_;
                // D * W < 2**62: no overflow; offsets compared by subtraction, which cannot wrap.
                if (s.w < 0 || D * W > limit || s.w > limit - D * W ||
                    (s.b != -1 && (s.b < 0 || W > limit || s.b > limit - W)))
                    bad(at + ": the layer's weights fall outside the parameters");
                break;
            }
            case StepKind::activation:
                if (n_in != 1 || width(s.in[0]) != W || s.act >= Activation::count) bad(at + ": a bad activation step");
                break;
            case StepKind::dropout:
                if (n_in != 1 || width(s.in[0]) != W || !(s.rate >= 0.0f && s.rate < 1.0f) || !s.state)
                    bad(at + ": a bad dropout step");
                break;
            case StepKind::add: case StepKind::subtract: case StepKind::multiply: case StepKind::average:
                if (n_in < 2 || (s.kind != StepKind::add && s.kind != StepKind::average && n_in != 2))
                    bad(at + ": a merge takes 2 inputs (add and average: 2 or more)");
                for (int v : s.in)
                    if (width(v) != W) bad(at + ": merged values differ in width");
                break;
            case StepKind::concatenate: {
                int64_t total = 0;
                for (int v : s.in) total += width(v);
                if (n_in < 1 || total != W) bad(at + ": the concatenated widths do not add up");
                break;
            }
            default: bad(at + ": unknown step kind");
        }
        producer_[static_cast<size_t>(s.out)] = static_cast<int>(si);
    }
    input_values_ = inputs;
    compact_ok_.assign(inputs.size(), 0);
    for (size_t i = 0; i < inputs.size(); ++i)
        compact_ok_[i] = width(inputs[i]) >= DENSE_AS_SPARSE_MIN_WIDTH && sparse_input_ok(static_cast<int>(i));
    for (const ProgramOutput& o : outputs_) {
        if (o.z < 0 || o.z >= V || producer_[static_cast<size_t>(o.z)] == -1) bad("an output reads no value");
        if (o.act >= Activation::count || o.loss >= LossKind::count || o.metric >= MetricKind::count)
            bad("an output has an unknown activation, loss or metric");
        if ((o.loss == LossKind::softmax_xent && o.act != Activation::softmax) ||
            (o.loss == LossKind::sigmoid_bce && o.act != Activation::sigmoid))
            bad("a fused loss needs its output activation (softmax, sigmoid)");
    }

    // The distinct weight sets (a layer called twice has two steps and one set): a kernel and
    // its bias, whose gradients the step writes together.
    param_set_.assign(steps_.size(), -1);
    std::vector<int64_t> set_w, set_b;
    for (size_t si = 0; si < steps_.size(); ++si) {
        if (steps_[si].kind != StepKind::dense) continue;
        int found = -1;
        for (size_t k = 0; k < set_w.size(); ++k)
            if (set_w[k] == steps_[si].w) found = static_cast<int>(k);
        if (found == -1) {
            found = static_cast<int>(set_w.size());
            set_w.push_back(steps_[si].w);
            set_b.push_back(steps_[si].b);
        }
        param_set_[si] = found;
    }
    n_param_sets_ = static_cast<int>(set_w.size());
    reg_param_set_.clear();
    for (const ProgramRegularizer& r : regularizers_) {
        if (r.w < 0 || r.n < 0 || r.n > n_trainable_ || r.w > n_trainable_ - r.n)
            bad("a regularizer's weights are not trainable");
        int found = -1;
        for (size_t k = 0; k < set_w.size(); ++k)
            if (set_w[k] == r.w || (set_b[k] >= 0 && set_b[k] == r.w)) found = static_cast<int>(k);
        if (found == -1) bad("a regularizer's weights belong to no dense step");
        reg_param_set_.push_back(found);
    }

    // Which values carry gradients, and how many contributions each receives per step.
    wants_grad_.assign(static_cast<size_t>(V), 0);
    for (const ProgramStep& s : steps_) {
        bool wants = s.kind == StepKind::dense && s.trainable;
        for (int v : s.in) wants = wants || wants_grad_[static_cast<size_t>(v)];
        wants_grad_[static_cast<size_t>(s.out)] = wants && s.kind != StepKind::input;
    }
    contributions_.assign(static_cast<size_t>(V), 0);
    for (const ProgramOutput& o : outputs_)
        if (o.loss != LossKind::none && wants_grad_[static_cast<size_t>(o.z)]) ++contributions_[static_cast<size_t>(o.z)];
    runs_backward_.assign(steps_.size(), 0);
    for (size_t si = steps_.size(); si-- > 0;) {
        const ProgramStep& s = steps_[si];
        if (s.kind == StepKind::input || contributions_[static_cast<size_t>(s.out)] == 0) continue;
        runs_backward_[si] = 1;
        for (int v : s.in)
            if (wants_grad_[static_cast<size_t>(v)]) ++contributions_[static_cast<size_t>(v)];
    }
    // Weights no loss reaches keep a zero gradient: the flat update then leaves them as they are.
    if (n_trainable_ > 0) std::memset(grads_, 0, static_cast<size_t>(n_trainable_) * sizeof(float));
}

ProgramWorkspace::ProgramWorkspace(const Program& p) { p.init(*this); }

void Program::init(ProgramWorkspace& ws) const {
    const int V = static_cast<int>(widths_.size());
    const size_t S = steps_.size(), O = outputs_.size();
    ws.val_.assign(static_cast<size_t>(V), Val{nullptr, 0, {}});
    ws.fwd_.assign(static_cast<size_t>(V), nullptr);
    ws.grad_.assign(static_cast<size_t>(V), nullptr);
    ws.mask_.assign(S, nullptr);
    ws.pred_.assign(O, nullptr);
    ws.tgt_.assign(O, nullptr);
    ws.sw_.assign(O, nullptr);
    ws.tmp_out_.assign(O, nullptr);
    ws.labels_.assign(O, {});
    ws.cur_labels_.assign(O, 0);
    ws.cur_rows_.assign(O, 0);
    ws.cur_weights_.assign(O, 0);
    ws.pred_done_.assign(O, 0);
    ws.written_.assign(static_cast<size_t>(V), 0);
    ws.act_done_.assign(static_cast<size_t>(V), 0);
    ws.left_.assign(static_cast<size_t>(V), 0);
    ws.param_written_.assign(static_cast<size_t>(n_param_sets_), 0);
    ws.sparse_.assign(input_values_.size(), 0);
    ws.compact_.resize(input_values_.size());
    int64_t chunks = 0;
    for (const ProgramRegularizer& r : regularizers_) chunks += (r.n + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK;
    ws.partials_.assign(static_cast<size_t>(chunks), 0.0);
}

bool Program::sparse_input_ok(int i) const {
    const int v = input_values_[static_cast<size_t>(i)];
    for (const ProgramStep& s : steps_)
        for (int x : s.in)
            if (x == v && s.kind != StepKind::dense) return false;
    for (const ProgramOutput& o : outputs_)
        if (o.z == v) return false;
    return true;
}

void Program::set_sparse(ProgramWorkspace& ws, const std::vector<CsrRows>& csr) const {
    for (size_t i = 0; i < input_values_.size(); ++i) {
        const char sparse = i < csr.size() && csr[i].indptr != nullptr;
        if (ws.sparse_[i] != sparse) {
            ws.sparse_[i] = sparse;
            ws.capacity_ = 0;  // lay the arena out again: a sparse input needs no buffer
        }
    }
}

void Program::reserve(ProgramWorkspace& ws, int64_t B) const {
    if (B <= ws.capacity_) return;
    std::vector<char> no_buffer(widths_.size(), 0);
    for (size_t i = 0; i < input_values_.size(); ++i)
        no_buffer[static_cast<size_t>(input_values_[i])] = ws.sparse_[i];
    // The same sum in double first: a batch too large to address is refused, never wrapped.
    double floats_per_row = 1.0;
    for (size_t v = 0; v < widths_.size(); ++v)
        floats_per_row += static_cast<double>(widths_[v]) * (contributions_[v] > 0 ? 2.0 : 1.0) + 1.0;
    for (const ProgramStep& s : steps_)
        if (s.kind == StepKind::dropout) floats_per_row += static_cast<double>(widths_[static_cast<size_t>(s.out)]);
    for (const ProgramOutput& o : outputs_) floats_per_row += 3.0 * static_cast<double>(widths_[static_cast<size_t>(o.z)]) + 1.0;
    if (static_cast<double>(B) * floats_per_row > 0x1p50)
        throw std::length_error("program: " + std::to_string(B) + " rows need more scratch memory than can be addressed");
    int64_t widest = 1, total = 0;
    for (size_t v = 0; v < widths_.size(); ++v) {
        widest = widths_[v] > widest ? widths_[v] : widest;
        if (!no_buffer[v]) total += round_up(B * widths_[v]);
        if (contributions_[v] > 0) total += round_up(B * widths_[v]);
    }
    for (const ProgramStep& s : steps_)
        if (s.kind == StepKind::dropout) total += round_up(B * widths_[static_cast<size_t>(s.out)]);
    for (const ProgramOutput& o : outputs_) total += 3 * round_up(B * widths_[static_cast<size_t>(o.z)]) + round_up(B);
    total += round_up(B * widest);
    float* p = ws.arena_.get(total);
    auto take = [&](int64_t n) {
        float* q = p;
        p += round_up(n);
        return q;
    };
    for (size_t v = 0; v < widths_.size(); ++v) {
        ws.fwd_[v] = no_buffer[v] ? nullptr : take(B * widths_[v]);
        ws.grad_[v] = contributions_[v] > 0 ? take(B * widths_[v]) : nullptr;
    }
    for (size_t si = 0; si < steps_.size(); ++si)
        if (steps_[si].kind == StepKind::dropout) ws.mask_[si] = take(B * widths_[static_cast<size_t>(steps_[si].out)]);
    for (size_t o = 0; o < outputs_.size(); ++o) {
        const int64_t K = widths_[static_cast<size_t>(outputs_[o].z)];
        ws.pred_[o] = take(B * K);
        ws.tgt_[o] = take(B * K);
        ws.tmp_out_[o] = take(B * K);
        ws.sw_[o] = take(B);
        ws.labels_[o].resize(static_cast<size_t>(B));
    }
    ws.tmp_ = take(B * widest);
    ws.row_loss_.resize(static_cast<size_t>(B));
    ws.capacity_ = B;
}

void Program::check(const ProgramData& d, const int64_t* rows, int64_t B) const {
    if (B <= 0) throw std::invalid_argument("a step needs at least one row");
    for (int64_t i = 0; i < B; ++i) {
        if (rows[i] < 0 || rows[i] >= d.n)
            throw std::out_of_range("row index " + std::to_string(rows[i]) + " is out of range for " +
                                    std::to_string(d.n) + " samples");
        for (size_t o = 0; o < outputs_.size(); ++o) {
            const int64_t* labels = d.targets[o].labels;
            const int64_t K = widths_[static_cast<size_t>(outputs_[o].z)];
            if (labels && (labels[rows[i]] < 0 || labels[rows[i]] >= K))
                throw std::out_of_range("label " + std::to_string(labels[rows[i]]) + " of sample " +
                                        std::to_string(rows[i]) + " is out of range for " +
                                        std::to_string(K) + " classes");
        }
    }
}

void Program::begin(ProgramWorkspace& ws, const ProgramData& d) const {
    for (size_t o = 0; o < outputs_.size(); ++o) {
        ws.cur_labels_[o] = d.targets[o].labels != nullptr;
        ws.cur_rows_[o] = d.targets[o].rows != nullptr;
        ws.cur_weights_[o] = d.targets[o].weights != nullptr;
    }
}

void Program::gather(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B) const {
    auto gather_rows = [&](float* dst, const float* src, int64_t ld, int64_t w) {
        parallel_rows(B, w, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN / 2, [&](int64_t r0, int64_t r1) {
            for (int64_t i = r0; i < r1; ++i)
                std::memcpy(dst + i * w, src + rows[i] * ld, static_cast<size_t>(w) * sizeof(float));
        });
    };
    for (size_t i = 0; i < input_values_.size(); ++i) {
        const size_t v = static_cast<size_t>(input_values_[i]);
        const int64_t w = widths_[v];
        if (ws.sparse_[i]) {
            // Read in place through the batch's row indices: a sparse batch is never copied.
            CsrRows x = d.csr[i];
            x.rows = rows;
            ws.val_[v] = {nullptr, 0, x};
            continue;
        }
        // A wide input that is mostly zeros (the book's multi-hot reviews) runs as sparse rows:
        // reading the batch once to compact it costs what copying it would, and the layer
        // then multiplies only the non-zeros, forward and backward.
        CsrRows x;
        if (compact_ok_[i] && compact_rows(ws.compact_[i], d.x[i], d.ldx[i], rows, B, w,
                                           DENSE_AS_SPARSE_MAX_DENSITY, &x)) {
            ws.val_[v] = {nullptr, 0, x};
            continue;
        }
        gather_rows(ws.fwd_[v], d.x[i], d.ldx[i], w);
        ws.val_[v] = {ws.fwd_[v], w, {}};
    }
    for (size_t o = 0; o < outputs_.size(); ++o) {
        const LossTargets& t = d.targets[o];
        const int64_t K = widths_[static_cast<size_t>(outputs_[o].z)];
        if (t.labels) {
            for (int64_t i = 0; i < B; ++i) ws.labels_[o][static_cast<size_t>(i)] = t.labels[rows[i]];
        } else if (t.rows) {
            gather_rows(ws.tgt_[o], t.rows, K, K);
        }
        if (t.weights)
            for (int64_t i = 0; i < B; ++i) ws.sw_[o][i] = t.weights[rows[i]];
    }
}

void Program::forward(ProgramWorkspace& ws, int64_t B, bool training) const {
    const ElementwiseLoops& L = loops();
    for (size_t si = 0; si < steps_.size(); ++si) {
        const ProgramStep& s = steps_[si];
        const size_t out = static_cast<size_t>(s.out);
        const int64_t W = widths_[out];
        float* y = ws.fwd_[out];
        switch (s.kind) {
            case StepKind::input:
                continue;  // gathered, or the caller's rows in place
            case StepKind::dense: {
                const Val x = ws.val_[static_cast<size_t>(s.in[0])];
                const int64_t D = widths_[static_cast<size_t>(s.in[0])];
                const float* b = s.b >= 0 ? params_ + s.b : nullptr;
                if (x.sparse.indptr)
                    dense_forward_sparse(y, x.sparse, params_ + s.w, b, B, W, unary_of(s.act));
                else
                    dense_forward(y, x.p, x.ld, params_ + s.w, b, B, D, W, unary_of(s.act), s.precision);
                break;
            }
            case StepKind::activation: {
                const Val x = ws.val_[static_cast<size_t>(s.in[0])];
                activation_forward(y, x.p, x.ld, B, W, s.act);
                break;
            }
            case StepKind::dropout: {
                const Val x = ws.val_[static_cast<size_t>(s.in[0])];
                if (!training || s.rate == 0.0f) {
                    ws.val_[out] = x;  // the identity: no copy
                    continue;
                }
                dropout_forward(y, ws.mask_[si], x.p, x.ld, B, W, s.rate, s.state[0], s.state[1]);
                ++s.state[1];
                break;
            }
            case StepKind::add: case StepKind::subtract: case StepKind::multiply: case StepKind::average: {
                const BinaryOp op = s.kind == StepKind::subtract ? BinaryOp::subtract
                                    : s.kind == StepKind::multiply ? BinaryOp::multiply : BinaryOp::add;
                const binary_loop_fn fn = L.binary[static_cast<int>(op)];
                const Val a = ws.val_[static_cast<size_t>(s.in[0])];
                const Val b = ws.val_[static_cast<size_t>(s.in[1])];
                over_rows(B, W, a.ld, b.ld, [&](int64_t o, int64_t ia, int64_t ib, int64_t n) {
                    fn(y + o, a.p + ia, 1, b.p + ib, 1, n);
                });
                for (size_t k = 2; k < s.in.size(); ++k) {
                    const Val c = ws.val_[static_cast<size_t>(s.in[k])];
                    over_rows(B, W, W, c.ld, [&](int64_t o, int64_t, int64_t ic, int64_t n) {
                        fn(y + o, y + o, 1, c.p + ic, 1, n);
                    });
                }
                if (s.kind == StepKind::average) {
                    const float inv = 1.0f / static_cast<float>(s.in.size());
                    const binary_loop_fn mul = L.binary[static_cast<int>(BinaryOp::multiply)];
                    over_rows(B, W, W, W, [&](int64_t o, int64_t, int64_t, int64_t n) {
                        mul(y + o, y + o, 1, &inv, 0, n);
                    });
                }
                break;
            }
            case StepKind::concatenate: {
                int64_t col = 0;
                for (int v : s.in) {
                    const Val x = ws.val_[static_cast<size_t>(v)];
                    const int64_t w = widths_[static_cast<size_t>(v)];
                    for (int64_t r = 0; r < B; ++r)
                        std::memcpy(y + r * W + col, x.p + r * x.ld, static_cast<size_t>(w) * sizeof(float));
                    col += w;
                }
                break;
            }
            default: break;
        }
        ws.val_[out] = {y, W, {}};
    }
}

float* Program::grad_target(ProgramWorkspace& ws, int v, bool* accumulate) const {
    *accumulate = ws.written_[static_cast<size_t>(v)] != 0;
    return ws.grad_[static_cast<size_t>(v)];
}

void Program::contributed(ProgramWorkspace& ws, int v) const {
    ws.written_[static_cast<size_t>(v)] = 1;
    --ws.left_[static_cast<size_t>(v)];
}

void Program::contribute_scaled(ProgramWorkspace& ws, int v, const float* src, float scale, int64_t B) const {
    bool acc;
    float* g = grad_target(ws, v, &acc);
    const int64_t n = B * widths_[static_cast<size_t>(v)];
    parallel_rows(n, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t i0, int64_t i1) {
        if (acc) {
            for (int64_t i = i0; i < i1; ++i) g[i] += src[i] * scale;
        } else if (scale == 1.0f) {
            std::memcpy(g + i0, src + i0, static_cast<size_t>(i1 - i0) * sizeof(float));
        } else {
            for (int64_t i = i0; i < i1; ++i) g[i] = src[i] * scale;
        }
    });
    contributed(ws, v);
}

void Program::contribute_product(ProgramWorkspace& ws, int v, const float* a, const float* b, int64_t B) const {
    bool acc;
    float* g = grad_target(ws, v, &acc);
    const int64_t n = B * widths_[static_cast<size_t>(v)];
    const binary_loop_fn mul = loops().binary[static_cast<int>(BinaryOp::multiply)];
    parallel_rows(n, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t i0, int64_t i1) {
        if (acc) {
            for (int64_t i = i0; i < i1; ++i) g[i] += a[i] * b[i];
        } else {
            mul(g + i0, a + i0, 1, b + i0, 1, i1 - i0);
        }
    });
    contributed(ws, v);
}

void Program::contribute_activation_grad(ProgramWorkspace& ws, int v, const float* dy, const float* y, Activation act,
                                         int64_t B) const {
    bool acc;
    float* g = grad_target(ws, v, &acc);
    const int64_t K = widths_[static_cast<size_t>(v)];
    if (!acc) {
        activation_backward(g, dy, y, B, K, act);
    } else {
        activation_backward(ws.tmp_, dy, y, B, K, act);
        const binary_loop_fn add = loops().binary[static_cast<int>(BinaryOp::add)];
        over_rows(B, K, K, K, [&](int64_t o, int64_t, int64_t, int64_t n) { add(g + o, g + o, 1, ws.tmp_ + o, 1, n); });
    }
    contributed(ws, v);
}

const float* Program::predictions(ProgramWorkspace& ws, int o) const {
    const size_t oi = static_cast<size_t>(o);
    if (!ws.pred_done_[oi] && ws.last_rows_ > 0) {
        const Val z = ws.val_[static_cast<size_t>(outputs_[oi].z)];
        activation_forward(ws.pred_[oi], z.p, z.ld, ws.last_rows_, widths_[static_cast<size_t>(outputs_[oi].z)],
                           outputs_[oi].act);
        ws.pred_done_[oi] = 1;
    }
    return ws.pred_[oi];
}

void Program::losses(ProgramWorkspace& ws, int64_t B, bool backward, double* stats) const {
    for (size_t oi = 0; oi < outputs_.size(); ++oi) {
        const ProgramOutput& o = outputs_[oi];
        const int z = o.z;
        const Val zv = ws.val_[static_cast<size_t>(z)];
        const int64_t K = widths_[static_cast<size_t>(z)];
        // The predictions only where something reads them: an element-wise loss, the binary
        // accuracy, or an argmax that the activation does not preserve (relu's ties at 0).
        const bool fused = o.loss == LossKind::softmax_xent || o.loss == LossKind::sigmoid_bce;
        const bool argmax_of_z = o.act != Activation::relu;
        const bool need_p = (o.loss != LossKind::none && !fused) ||
                            o.metric == MetricKind::binary_accuracy ||
                            (o.metric == MetricKind::categorical_accuracy && !argmax_of_z);
        ws.pred_done_[oi] = need_p;
        if (need_p) activation_forward(ws.pred_[oi], zv.p, zv.ld, B, K, o.act);
        const float* p = ws.pred_[oi];
        double loss = 0.0, metric = 0.0;
        const bool has_labels = ws.cur_labels_[oi] != 0;
        const int64_t* labels = ws.labels_[oi].data();
        if (o.loss != LossKind::none) {
            LossTargets t;
            if (has_labels) t.labels = labels;
            else t.rows = ws.tgt_[oi];
            t.weights = ws.cur_weights_[oi] ? ws.sw_[oi] : nullptr;
            const bool wants = backward && wants_grad_[static_cast<size_t>(z)];
            const bool direct = fused || o.act == Activation::linear;
            bool acc = false;
            float* g = ws.tmp_out_[oi];
            if (wants && direct) {
                g = grad_target(ws, z, &acc);
                if (acc) g = ws.tmp_;
            }
            output_loss(o.loss, ws.row_loss_.data(), g, fused ? zv.p : p, t, B, K,
                        o.weight / static_cast<float>(B));
            if (wants) {
                if (!direct) {
                    contribute_activation_grad(ws, z, g, p, o.act, B);
                } else if (acc) {
                    contribute_scaled(ws, z, ws.tmp_, 1.0f, B);
                } else {
                    contributed(ws, z);
                }
            }
            for (int64_t i = 0; i < B; ++i) loss += ws.row_loss_[static_cast<size_t>(i)];
        }
        const bool has_targets = has_labels || ws.cur_rows_[oi];  // else no metric to count
        if (has_targets && o.metric == MetricKind::categorical_accuracy) {
            const float* scores = need_p ? p : zv.p;  // softmax, sigmoid, tanh keep the argmax
            const int64_t ld = need_p ? K : zv.ld;
            for (int64_t i = 0; i < B; ++i) {
                const int64_t truth = has_labels ? labels[i] : argmax_row(ws.tgt_[oi] + i * K, K);
                metric += argmax_row(scores + i * ld, K) == truth;
            }
        } else if (has_targets && o.metric == MetricKind::binary_accuracy) {
            const float* t = ws.tgt_[oi];
            for (int64_t i = 0; i < B; ++i) {
                int64_t hits = 0;
                for (int64_t k = 0; k < K; ++k) hits += (p[i * K + k] > 0.5f ? 1.0f : 0.0f) == t[i * K + k];
                metric += static_cast<double>(hits) / static_cast<double>(K);
            }
        }
        stats[2 * oi] = loss;
        stats[2 * oi + 1] = metric;
    }
}

void Program::backward(ProgramWorkspace& ws, int64_t B) const {
    for (size_t si = steps_.size(); si-- > 0;) {
        if (!runs_backward_[si]) continue;
        const ProgramStep& s = steps_[si];
        const size_t out = static_cast<size_t>(s.out);
        const int64_t W = widths_[out];
        float* dy = ws.grad_[out];
        switch (s.kind) {
            case StepKind::dense: {
                const int u = s.in[0];
                const size_t us = static_cast<size_t>(u);
                const int64_t D = widths_[us];
                if (s.act != Activation::linear && !ws.act_done_[out])
                    dense_activation_backward(dy, dy, ws.fwd_[out], B * W, unary_of(s.act));
                DenseGrads g;
                if (s.trainable) {
                    const size_t ps = static_cast<size_t>(param_set_[si]);
                    g.dw = grads_ + s.w;
                    g.db = s.b >= 0 ? grads_ + s.b : nullptr;
                    g.accumulate_w = ws.param_written_[ps] != 0;
                    ws.param_written_[ps] = 1;
                }
                if (wants_grad_[us]) {
                    g.dx = grad_target(ws, u, &g.accumulate_x);
                    g.lddx = D;
                    const int p = producer_[us];
                    const ProgramStep& below = steps_[static_cast<size_t>(p)];
                    if (ws.left_[us] == 1 && below.kind == StepKind::dense && below.act != Activation::linear) {
                        g.dx_act_grad = activation_grad_op(unary_of(below.act));
                        g.y_below = ws.fwd_[us];
                        g.ldy_below = D;
                        ws.act_done_[us] = 1;
                    }
                }
                const Val& x = ws.val_[us];
                if (x.sparse.indptr)  // an input: it wants no gradient, so g.dx is null
                    dense_backward_sparse(g, dy, x.sparse, B, D, W);
                else
                    dense_backward(g, dy, x.p, x.ld, params_ + s.w, B, D, W, s.precision);
                if (g.dx) contributed(ws, u);
                break;
            }
            case StepKind::activation:
                if (wants_grad_[static_cast<size_t>(s.in[0])])
                    contribute_activation_grad(ws, s.in[0], dy, ws.fwd_[out], s.act, B);
                break;
            case StepKind::dropout:
                if (!wants_grad_[static_cast<size_t>(s.in[0])]) break;
                if (s.rate == 0.0f) contribute_scaled(ws, s.in[0], dy, 1.0f, B);
                else contribute_product(ws, s.in[0], dy, ws.mask_[si], B);
                break;
            case StepKind::add: case StepKind::subtract: case StepKind::average: {
                const float scale = s.kind == StepKind::average ? 1.0f / static_cast<float>(s.in.size()) : 1.0f;
                for (size_t k = 0; k < s.in.size(); ++k) {
                    if (!wants_grad_[static_cast<size_t>(s.in[k])]) continue;
                    const float sign = s.kind == StepKind::subtract && k == 1 ? -1.0f : 1.0f;
                    contribute_scaled(ws, s.in[k], dy, scale * sign, B);
                }
                break;
            }
            case StepKind::multiply:
                for (size_t k = 0; k < 2; ++k) {
                    if (!wants_grad_[static_cast<size_t>(s.in[k])]) continue;
                    const Val other = ws.val_[static_cast<size_t>(s.in[1 - k])];
                    contribute_product(ws, s.in[k], dy, other.p, B);
                }
                break;
            case StepKind::concatenate: {
                int64_t col = 0;
                for (int v : s.in) {
                    const size_t vs = static_cast<size_t>(v);
                    const int64_t w = widths_[vs];
                    if (wants_grad_[vs]) {
                        bool acc;
                        float* g = grad_target(ws, v, &acc);
                        for (int64_t r = 0; r < B; ++r) {
                            const float* src = dy + r * W + col;
                            float* dst = g + r * w;
                            if (acc) {
                                for (int64_t j = 0; j < w; ++j) dst[j] += src[j];
                            } else {
                                std::memcpy(dst, src, static_cast<size_t>(w) * sizeof(float));
                            }
                        }
                        contributed(ws, v);
                    }
                    col += w;
                }
                break;
            }
            default: break;
        }
    }
}

double Program::regularize(ProgramWorkspace& ws, bool backward) const {
    size_t chunk0 = 0;
    for (size_t r = 0; r < regularizers_.size(); ++r) {
        const ProgramRegularizer& reg = regularizers_[r];
        const float* w = params_ + reg.w;
        float* dw = grads_ + reg.w;
        const size_t ps = static_cast<size_t>(reg_param_set_[r]);
        // A layer no loss reaches has no gradient this step but the penalty's. Read before any
        // penalty marks the set written: a kernel's and its bias' penalties both go by backward.
        const bool add = ws.param_written_[ps] != 0;
        const int64_t chunks = (reg.n + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK;
        const float l1 = reg.l1, two_l2 = 2.0f * reg.l2;
        parallel_for(chunks, [&](int64_t c) {
            const int64_t b = c * ELEMENTWISE_CHUNK;
            const int64_t e = b + ELEMENTWISE_CHUNK < reg.n ? b + ELEMENTWISE_CHUNK : reg.n;
            double abs_sum = 0.0, sq_sum = 0.0;
            for (int64_t i = b; i < e; ++i) {
                abs_sum += fabs(static_cast<double>(w[i]));
                sq_sum += static_cast<double>(w[i]) * static_cast<double>(w[i]);
                if (backward) {
                    const float g = two_l2 * w[i] + (w[i] > 0.0f ? l1 : (w[i] < 0.0f ? -l1 : 0.0f));
                    dw[i] = add ? dw[i] + g : g;
                }
            }
            ws.partials_[chunk0 + static_cast<size_t>(c)] =
                static_cast<double>(reg.l1) * abs_sum + static_cast<double>(reg.l2) * sq_sum;
        });
        chunk0 += static_cast<size_t>(chunks);
    }
    if (backward)
        for (int ps : reg_param_set_) ws.param_written_[static_cast<size_t>(ps)] = 1;
    double penalty = 0.0;
    for (size_t c = 0; c < chunk0; ++c) penalty += ws.partials_[c];
    return penalty;
}

void Program::gradients(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B,
                        double* stats) const {
    check(d, rows, B);
    set_sparse(ws, d.csr);
    reserve(ws, B);
    begin(ws, d);
    gather(ws, d, rows, B);
    // std::fill, not memset: an empty vector's data() may be null, which memset must not get.
    std::fill(ws.written_.begin(), ws.written_.end(), 0);
    std::fill(ws.act_done_.begin(), ws.act_done_.end(), 0);
    std::fill(ws.param_written_.begin(), ws.param_written_.end(), 0);
    std::copy(contributions_.begin(), contributions_.end(), ws.left_.begin());
    forward(ws, B, true);
    losses(ws, B, true, stats);
    backward(ws, B);
    ws.last_rows_ = B;
}

void Program::update(ProgramWorkspace& ws, const OptimizerStep* opt, double* stats) const {
    // Never left half done: a cancelled caller still gets the whole update.
    CancelScope whole(nullptr);
    stats[2 * outputs_.size()] = regularize(ws, true);
    if (opt) optimizer_update(*opt);
}

void Program::test_step(ProgramWorkspace& ws, const ProgramData& d, const int64_t* rows, int64_t B, double* stats) const {
    check(d, rows, B);
    set_sparse(ws, d.csr);
    reserve(ws, B);
    begin(ws, d);
    gather(ws, d, rows, B);
    forward(ws, B, false);
    losses(ws, B, false, stats);
    stats[2 * outputs_.size()] = regularize(ws, false);
    ws.last_rows_ = B;
}

void Program::predict(ProgramWorkspace& ws, const std::vector<const float*>& x, const std::vector<int64_t>& ldx,
                      const std::vector<CsrRows>& csr, int64_t n, const std::vector<float*>& out) const {
    // Blocks of rows small enough that each layer's output stays in cache for the next layer.
    const int64_t block = 512;
    set_sparse(ws, csr);
    reserve(ws, n < block ? (n > 0 ? n : 1) : block);
    ws.last_rows_ = 0;  // the last step's values are overwritten: nothing of it can be read now
    for (int64_t r0 = 0; r0 < n; r0 += block) {
        const int64_t m = n - r0 < block ? n - r0 : block;
        for (size_t i = 0; i < input_values_.size(); ++i) {
            Val& v = ws.val_[static_cast<size_t>(input_values_[i])];
            if (ws.sparse_[i]) {
                v = {nullptr, 0, csr[i]};
                v.sparse.row0 += r0;
            } else {
                v = {const_cast<float*>(x[i]) + r0 * ldx[i], ldx[i], {}};
            }
        }
        forward(ws, m, false);
        for (size_t oi = 0; oi < outputs_.size(); ++oi) {
            const Val z = ws.val_[static_cast<size_t>(outputs_[oi].z)];
            const int64_t K = widths_[static_cast<size_t>(outputs_[oi].z)];
            activation_forward(out[oi] + r0 * K, z.p, z.ld, m, K, outputs_[oi].act);
        }
    }
}

}  // namespace fastnn
