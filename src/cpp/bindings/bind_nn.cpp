// Bindings of the layers' C++ pairs (dense, dropout) and of the compiled program.
#include <pybind11/stl.h>

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "../kernels/cancel.h"
#include "../kernels/optim.h"
#include "../nn/dense.h"
#include "../nn/dropout.h"
#include "../nn/program.h"
#include "common.h"

namespace fastnn_bindings {

using namespace fastnn;

namespace {

UnaryOp dense_act(Activation act) {
    switch (act) {
        case Activation::linear: return UnaryOp::count;
        case Activation::relu: return UnaryOp::relu;
        case Activation::sigmoid: return UnaryOp::sigmoid;
        case Activation::tanh: return UnaryOp::tanh;
        default: throw py::value_error("a dense layer's fused activation is linear, relu, sigmoid or tanh");
    }
}

// A float32 2-d array whose rows are contiguous and `width` wide (any row stride >= width).
Strided2D rows_of(const py::array& a, const char* name, int64_t width) {
    Strided2D s = strided_2d(a, name);
    if (s.cols != width || (s.cs != 1 && s.cols > 1) || s.rs < width)
        throw py::value_error(std::string(name) + " must have " + std::to_string(width) +
                              " contiguous columns, got shape " + shape_str(a));
    return s;
}

// A sparse matrix from Python: the tuple (indptr, indices, data) of a CSR matrix of `width`
// columns: int64 (n + 1,), int32 (nnz,), float32 (nnz,), each 1-d and C-contiguous. indptr's
// offsets are absolute (a slice of a larger matrix's indptr is fine). Every offset and column
// index is checked here, so the kernels read inside the arrays only. Sets *n to the row count;
// `keep` holds the arrays for as long as the caller reads them.
CsrRows csr_arg(const py::object& obj, int64_t width, const std::string& name, int64_t* n,
                std::vector<py::object>* keep) {
    if (!py::isinstance<py::tuple>(obj) || py::len(obj) != 3)
        throw py::type_error(name + " must be an array or a sparse matrix (indptr, indices, data)");
    const py::tuple t = obj.cast<py::tuple>();
    // Each a 1-d array; contiguous_data below checks its dtype and layout.
    auto vector_of = [&](const py::handle& h, const char* what) {
        if (!py::isinstance<py::array>(h)) throw py::type_error(name + ": " + what + " must be a numpy array");
        py::array a = py::reinterpret_borrow<py::array>(h);
        if (a.ndim() != 1) throw py::value_error(name + ": " + what + " must be 1-d");
        if (keep) keep->push_back(a);
        return a;
    };
    const py::array indptr = vector_of(t[0], "indptr"), indices = vector_of(t[1], "indices"),
                    data = vector_of(t[2], "data");
    if (indptr.shape(0) < 1) throw py::value_error(name + ": indptr is empty");
    if (indices.shape(0) != data.shape(0))
        throw py::value_error(name + ": indices and data differ in length");
    CsrRows x;
    x.indptr = contiguous_data<int64_t>(indptr, indptr.size(), (name + ": indptr").c_str(), false);
    x.indices = contiguous_data<int32_t>(indices, indices.size(), (name + ": indices").c_str(), false);
    x.data = contiguous_data<float>(data, data.size(), (name + ": data").c_str(), false);
    *n = indptr.shape(0) - 1;
    const int64_t nnz = indices.shape(0);
    if (x.indptr[0] < 0 || x.indptr[*n] > nnz)
        throw py::value_error(name + ": indptr points outside indices");
    for (int64_t r = 0; r < *n; ++r)
        if (x.indptr[r + 1] < x.indptr[r]) throw py::value_error(name + ": indptr decreases at row " + std::to_string(r));
    for (int64_t k = x.indptr[0]; k < x.indptr[*n]; ++k)
        if (x.indices[k] < 0 || x.indices[k] >= width)
            throw py::value_error(name + ": column index " + std::to_string(x.indices[k]) + " is out of range for " +
                                  std::to_string(width) + " columns");
    return x;
}

float* c_float(const py::object& obj, std::initializer_list<int64_t> shape, const char* name) {
    if (obj.is_none()) return nullptr;
    if (!py::isinstance<py::array>(obj)) throw py::type_error(std::string(name) + " must be a numpy array or None");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    return output_ptr(a, shape, name);
}

// y = act(x w + b) for x (B, D), w (D, U), b (U,) or None, y (B, U).
void dense_forward_binding(const py::array& x, const py::array& w, const py::object& b, py::array& y,
                           Activation act, bool bf16) {
    const Strided2D W = strided_2d(w, "kernel");
    if (W.rs != W.cols || W.cs != 1) throw py::value_error("kernel must be C-contiguous");
    const Strided2D X = rows_of(x, "x", W.rows);
    const float* bias = nullptr;
    if (!b.is_none()) bias = contiguous_data<float>(b.cast<py::array>(), W.cols, "bias", false);
    float* out = output_ptr(y, {X.rows, W.cols}, "y");
    const UnaryOp a = dense_act(act);
    const double B = static_cast<double>(X.rows), D = static_cast<double>(W.rows), U = static_cast<double>(W.cols);
    run_kernel(estimated_seconds(2 * B * D * U, B * D + D * U + B * U),
               [&] { dense_forward(out, X.data, X.rs, W.data, bias, X.rows, W.rows, W.cols, a,
                                   precision_of(bf16)); });
}

// y = act(x w + b) for a sparse x (indptr, indices, data) of D = w's rows columns.
void dense_forward_sparse_binding(const py::object& x, const py::array& w, const py::object& b, py::array& y,
                                  Activation act) {
    const Strided2D W = strided_2d(w, "kernel");
    if (W.rs != W.cols || W.cs != 1) throw py::value_error("kernel must be C-contiguous");
    int64_t B = 0;
    const CsrRows X = csr_arg(x, W.rows, "x", &B, nullptr);
    const float* bias = nullptr;
    if (!b.is_none()) bias = contiguous_data<float>(b.cast<py::array>(), W.cols, "bias", false);
    float* out = output_ptr(y, {B, W.cols}, "y");
    const UnaryOp a = dense_act(act);
    const double work = static_cast<double>(csr_nnz(X, B)) * static_cast<double>(W.cols);
    run_kernel(estimated_seconds(2 * work, 2 * work),
               [&] { dense_forward_sparse(out, X, W.data, bias, B, W.cols, a); });
}

// dw (D, U) and db (U,), each optional, from dz (B, U) and a sparse x of D columns.
void dense_backward_sparse_binding(const py::array& dz, const py::object& x, const py::object& dw,
                                   const py::object& db, int64_t D) {
    if (dz.ndim() != 2) throw py::value_error("dz must be (B, U)");
    const int64_t U = dz.shape(1);
    int64_t B = 0;
    const CsrRows X = csr_arg(x, D, "x", &B, nullptr);
    if (dz.shape(0) != B) throw py::value_error("dz must have one row per row of x");
    const float* g = contiguous_data<float>(dz, B * U, "dz", false);
    DenseGrads grads;
    grads.dw = c_float(dw, {D, U}, "dw");
    grads.db = c_float(db, {U}, "db");
    const double work = static_cast<double>(csr_nnz(X, B)) * static_cast<double>(U);
    run_kernel(estimated_seconds(2 * work, 2 * work),
               [&] { dense_backward_sparse(grads, g, X, B, D, U); });
}

// dx (B, D), dw (D, U), db (U,), each optional, from dz (B, U), x (B, D) and w (D, U).
void dense_backward_binding(const py::array& dz, const py::array& x, const py::array& w,
                            const py::object& dx, const py::object& dw, const py::object& db,
                            bool bf16) {
    const Strided2D W = strided_2d(w, "kernel");
    if (W.rs != W.cols || W.cs != 1) throw py::value_error("kernel must be C-contiguous");
    const Strided2D X = rows_of(x, "x", W.rows);
    const float* g = contiguous_data<float>(dz, X.rows * W.cols, "dz", false);
    if (dz.ndim() != 2 || dz.shape(0) != X.rows) throw py::value_error("dz must be (B, U)");
    DenseGrads grads;
    grads.dx = c_float(dx, {X.rows, W.rows}, "dx");
    grads.lddx = W.rows;
    grads.dw = c_float(dw, {W.rows, W.cols}, "dw");
    grads.db = c_float(db, {W.cols}, "db");
    const double B = static_cast<double>(X.rows), D = static_cast<double>(W.rows), U = static_cast<double>(W.cols);
    run_kernel(estimated_seconds(4 * B * D * U, 2 * (B * D + D * U + B * U)),
               [&] { dense_backward(grads, g, X.data, X.rs, W.data, X.rows, W.rows, W.cols,
                                    precision_of(bf16)); });
}

// y = x * mask over a C-contiguous x (row-major index: the same mask as the program's for the
// same leading axis), mask written alongside.
void dropout_forward_binding(const py::array& x, py::array& y, py::array& mask, double rate,
                             uint64_t seed, uint64_t counter) {
    if (!(rate >= 0.0 && rate < 1.0)) throw py::value_error("rate must be in [0, 1)");
    const int64_t n = x.size();
    const float* xp = contiguous_data<float>(x, n, "x", false);
    float* yp = contiguous_data<float>(y, n, "y", true);
    float* mp = contiguous_data<float>(mask, n, "mask", true);
    const int64_t B = x.ndim() >= 2 ? x.shape(0) : 1;
    const int64_t D = B > 0 ? n / B : 0;
    run_kernel(estimated_seconds(0, 3.0 * static_cast<double>(n)),
               [&] { dropout_forward(yp, mp, xp, D, B, D, static_cast<float>(rate), seed, counter); });
}

void dropout_backward_binding(const py::array& dy, const py::array& mask, py::array& dx) {
    const int64_t n = dy.size();
    const float* g = contiguous_data<float>(dy, n, "dy", false);
    const float* m = contiguous_data<float>(mask, n, "mask", false);
    float* out = contiguous_data<float>(dx, n, "dx", true);
    run_kernel(estimated_seconds(0, 3.0 * static_cast<double>(n)),
               [&] { dropout_backward(out, g, m, n, false); });
}

using StepSpec = std::tuple<StepKind, std::vector<int>, int, int, Activation, int64_t, int64_t,
                            bool, double, py::object, bool>;
using OutputSpec = std::tuple<int, Activation, LossKind, double, MetricKind>;
using RegularizerSpec = std::tuple<int64_t, int64_t, double, double>;
using OptimizerSpec = std::tuple<OptimizerKind, py::object, py::object, bool>;
using TargetSpec = std::tuple<py::object, py::object, py::object>;

// Readers (predict, test steps, a training step's gradients) share the parameters; a training
// step's update takes them alone. A waiting writer holds back new readers, so a stream of
// predict calls cannot starve training.
class ParamsLock {
public:
    void lock_shared() {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [this] { return !writer_ && writers_waiting_ == 0; });
        ++readers_;
    }
    void unlock_shared() {
        std::lock_guard<std::mutex> l(m_);
        if (--readers_ == 0) cv_.notify_all();
    }
    void lock() {
        std::unique_lock<std::mutex> l(m_);
        ++writers_waiting_;
        cv_.wait(l, [this] { return !writer_ && readers_ == 0; });
        --writers_waiting_;
        writer_ = true;
    }
    void unlock() {
        std::lock_guard<std::mutex> l(m_);
        writer_ = false;
        cv_.notify_all();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    int readers_ = 0, writers_waiting_ = 0;
    bool writer_ = false;
};

// A program's locks, listed so that a forked child can start them afresh: the threads that held
// them at the fork do not exist in the child, whose copies would stay locked for ever.
struct ProgramLocks {
    std::mutex train;    // one training step at a time (the gradient buffer is shared)
    ParamsLock params;

    static std::shared_ptr<ProgramLocks> make() {
        std::shared_ptr<ProgramLocks> l(new ProgramLocks(), [](ProgramLocks* p) {
            {
                std::lock_guard<std::mutex> g(registry_mutex());
                registry().erase(p);
            }
            delete p;
        });
        std::lock_guard<std::mutex> g(registry_mutex());
#if !defined(_WIN32)
        static bool atfork_registered = [] {
            pthread_atfork(nullptr, nullptr, after_fork_in_child);
            return true;
        }();
        (void)atfork_registered;
#endif
        registry().insert(l.get());
        return l;
    }

private:
    ProgramLocks() = default;
    // Never destroyed: a program may be freed while the interpreter exits.
    static std::mutex& registry_mutex() {
        static std::mutex* m = new std::mutex();
        return *m;
    }
    static std::set<ProgramLocks*>& registry() {
        static std::set<ProgramLocks*>* r = new std::set<ProgramLocks*>();
        return *r;
    }
    static void after_fork_in_child() {
        new (&registry_mutex()) std::mutex();
        for (ProgramLocks* p : registry()) {
            new (&p->train) std::mutex();
            new (&p->params) ParamsLock();
        }
    }
};

// A caller's scratch for one program (ProgramWorkspace): each thread that runs a program uses
// its own. `busy` refuses a second thread instead of letting two corrupt each other's scratch.
struct WorkspaceBinding {
    uint64_t owner = 0;
    std::unique_ptr<ProgramWorkspace> ws;
    std::atomic<bool> busy{false};
};

// One dataset's arrays, checked against the program that made it (and kept alive).
struct DataBinding {
    uint64_t owner = 0;  // the id of the program that checked them
    ProgramData data;
    std::vector<py::object> keep;
};

// The program over a model's flat parameter and gradient buffers (kept alive here). Any number
// of threads may run it at once, each with its own workspace; training steps take turns, and a
// step's update waits for readers of the parameters to finish (ParamsLock).
class ProgramBinding {
public:
    ProgramBinding(py::array params, py::array grads, const std::vector<int64_t>& widths,
                   const std::vector<StepSpec>& steps, const std::vector<OutputSpec>& outputs,
                   const std::vector<RegularizerSpec>& regularizers, const py::object& optimizer)
        : params_(std::move(params)), grads_(std::move(grads)) {
        float* p = flat(params_, "params");
        float* g = flat(grads_, "grads");
        std::vector<ProgramStep> st;
        for (const auto& [kind, in, out, input, act, w, b, trainable, rate, state, bf16] : steps) {
            ProgramStep s;
            s.kind = kind;
            s.in = in;
            s.out = out;
            s.input = input;
            s.act = act;
            s.w = w;
            s.b = b;
            s.trainable = trainable;
            s.rate = static_cast<float>(rate);
            s.precision = bf16 ? GemmPrecision::bfloat16 : GemmPrecision::float32;
            if (kind == StepKind::dropout) {
                if (!py::isinstance<py::array_t<uint64_t>>(state))
                    throw py::type_error("a dropout step needs a uint64 state array");
                py::array a = py::reinterpret_borrow<py::array>(state);
                s.state = contiguous_data<uint64_t>(a, 2, "dropout state", true);
                keep_.push_back(state);
            }
            st.push_back(std::move(s));
        }
        std::vector<ProgramOutput> outs;
        for (const auto& [z, act, loss, weight, metric] : outputs)
            outs.push_back({z, act, loss, static_cast<float>(weight), metric});
        std::vector<ProgramRegularizer> regs;
        for (const auto& [w, n, l1, l2] : regularizers)
            regs.push_back({w, n, static_cast<float>(l1), static_cast<float>(l2)});
        try {
            program_ = std::make_unique<Program>(widths, std::move(st), std::move(outs), std::move(regs),
                                                 p, params_.size(), g, grads_.size());
        } catch (const std::invalid_argument& e) {
            throw py::value_error(e.what());
        }
        if (!optimizer.is_none()) {
            const auto [kind, slot0, slot1, nesterov] = optimizer.cast<OptimizerSpec>();
            opt_.kind = kind;
            opt_.param = p;
            opt_.grad = g;
            opt_.n = grads_.size();
            opt_.nesterov = nesterov;
            opt_.slot0 = slot(slot0, "slot 0");
            opt_.slot1 = slot(slot1, "slot 1");
            require_disjoint(opt_.n, {{opt_.param, "params"}, {opt_.grad, "grads"},
                                      {opt_.slot0, "slot 0"}, {opt_.slot1, "slot 1"}});
            has_opt_ = true;
        }
    }

    DataBinding data(const std::vector<py::object>& inputs, const std::vector<TargetSpec>& targets) const {
        DataBinding d;
        d.owner = id_;
        if (static_cast<int>(inputs.size()) != program_->n_inputs())
            throw py::value_error("the program takes " + std::to_string(program_->n_inputs()) + " inputs");
        if (static_cast<int>(targets.size()) != program_->n_outputs())
            throw py::value_error("the program has " + std::to_string(program_->n_outputs()) + " outputs");
        int64_t n = -1;
        auto same_n = [&](int64_t rows, const std::string& what) {
            if (n == -1) n = rows;
            if (rows != n) throw py::value_error(what + " has " + std::to_string(rows) + " rows, not " + std::to_string(n));
        };
        for (size_t i = 0; i < inputs.size(); ++i) {
            const Input in = input_arg(inputs[i], static_cast<int>(i), &d.keep);
            same_n(in.rows, "input " + std::to_string(i));
            d.data.x.push_back(in.x);
            d.data.ldx.push_back(in.ldx);
            d.data.csr.push_back(in.csr);
        }
        for (size_t o = 0; o < targets.size(); ++o) {
            const auto& [labels, rows, weights] = targets[o];
            const int64_t K = program_->output_width(static_cast<int>(o));
            const std::string at = "output " + std::to_string(o);
            LossTargets t;
            if (!labels.is_none()) {
                py::array a = py::reinterpret_borrow<py::array>(labels);
                if (!py::isinstance<py::array_t<int64_t>>(labels) || a.ndim() != 1)
                    throw py::type_error(at + ": labels must be a 1-d int64 array");
                same_n(a.shape(0), at + "'s labels");
                t.labels = contiguous_data<int64_t>(a, a.shape(0), "labels", false);
                d.keep.push_back(labels);
            }
            if (!rows.is_none()) {
                py::array a = py::reinterpret_borrow<py::array>(rows);
                const Strided2D T = strided_2d(a, "targets");
                if (T.cols != K || T.cs != 1 || T.rs != K) throw py::value_error(at + ": targets must be C-contiguous (n, " + std::to_string(K) + ")");
                same_n(T.rows, at + "'s targets");
                t.rows = T.data;
                d.keep.push_back(rows);
            }
            if (!weights.is_none()) {
                py::array a = py::reinterpret_borrow<py::array>(weights);
                require_float32(a, "sample weights");
                if (a.ndim() != 1) throw py::value_error(at + ": sample weights must be 1-d");
                same_n(a.shape(0), at + "'s sample weights");
                t.weights = contiguous_data<float>(a, a.shape(0), "sample weights", false);
                d.keep.push_back(weights);
            }
            const LossKind loss = program_->output_loss_kind(static_cast<int>(o));
            if (loss != LossKind::none && (t.labels == nullptr) == (t.rows == nullptr))
                throw py::value_error(at + ": give its labels or its target rows");
            if (t.labels && loss != LossKind::softmax_xent && loss != LossKind::none)
                throw py::value_error(at + ": integer labels go with softmax cross-entropy only");
            d.data.targets.push_back(t);
        }
        d.data.n = n < 0 ? 0 : n;
        return d;
    }

    std::unique_ptr<WorkspaceBinding> workspace() const {
        auto w = std::make_unique<WorkspaceBinding>();
        w->owner = id_;
        w->ws = std::make_unique<ProgramWorkspace>(*program_);
        return w;
    }

    // One training step: the gradients with the parameters shared with readers, then the update
    // alone. Cancelled (Ctrl-C) before the update, it leaves the parameters as they were.
    void train_step(WorkspaceBinding& w, const DataBinding& d, const py::array& rows,
                    const py::array& hyper, int64_t step, py::array& stats) {
        mine(d);
        Busy busy = use(w);
        if (!has_opt_) throw py::value_error("this program was built without an optimizer");
        const int64_t* r = index_rows(rows);
        const int64_t B = rows.shape(0);
        double* s = stats_ptr(stats);
        OptimizerStep o = optimizer_step(hyper, step);
        run_kernel(step_seconds(B, true), [&] {
            std::lock_guard<std::mutex> training(locks_->train);
            {
                std::shared_lock<ParamsLock> reading(locks_->params);
                program_->gradients(*w.ws, d.data, r, B, s);
            }
            if (cancelled()) return;
            std::unique_lock<ParamsLock> writing(locks_->params);
            program_->update(*w.ws, &o, s);
        });
    }

    void test_step(WorkspaceBinding& w, const DataBinding& d, const py::array& rows, py::array& stats) {
        mine(d);
        Busy busy = use(w);
        const int64_t* r = index_rows(rows);
        const int64_t B = rows.shape(0);
        double* s = stats_ptr(stats);
        run_kernel(step_seconds(B, false), [&] {
            std::shared_lock<ParamsLock> reading(locks_->params);
            program_->test_step(*w.ws, d.data, r, B, s);
        });
    }

    void predict(WorkspaceBinding& w, const std::vector<py::object>& inputs, std::vector<py::array>& outputs) {
        Busy busy = use(w);
        if (static_cast<int>(inputs.size()) != program_->n_inputs() ||
            static_cast<int>(outputs.size()) != program_->n_outputs())
            throw py::value_error("predict: wrong number of inputs or outputs");
        std::vector<const float*> x;
        std::vector<int64_t> ldx;
        std::vector<CsrRows> csr;
        int64_t n = -1;
        for (size_t i = 0; i < inputs.size(); ++i) {
            const Input in = input_arg(inputs[i], static_cast<int>(i), nullptr);
            if (n != -1 && in.rows != n) throw py::value_error("predict: the inputs differ in length");
            n = in.rows;
            x.push_back(in.x);
            ldx.push_back(in.ldx);
            csr.push_back(in.csr);
        }
        std::vector<float*> out;
        for (size_t o = 0; o < outputs.size(); ++o)
            out.push_back(output_ptr(outputs[o], {n, program_->output_width(static_cast<int>(o))}, "out"));
        run_kernel(step_seconds(n, false), [&] {
            std::shared_lock<ParamsLock> reading(locks_->params);
            program_->predict(*w.ws, x, ldx, csr, n, out);
        });
    }

    // Views of the workspace's last step, valid until its next one: what Python metrics read.
    py::object predictions(const py::object& workspace, int o) const {
        WorkspaceBinding& w = workspace.cast<WorkspaceBinding&>();
        Busy busy = use(w);
        output_index(o);
        const float* p = program_->predictions(*w.ws, o);
        return py::array_t<float>({w.ws->last_rows(), program_->output_width(o)}, p, workspace);
    }

    py::object targets(const py::object& workspace, int o) const {
        WorkspaceBinding& w = workspace.cast<WorkspaceBinding&>();
        Busy busy = use(w);
        output_index(o);
        const int64_t B = w.ws->last_rows();
        if (const int64_t* labels = program_->target_labels(*w.ws, o))
            return py::array_t<int64_t>({B}, labels, workspace);
        if (const float* rows = program_->target_rows(*w.ws, o))
            return py::array_t<float>({B, program_->output_width(o)}, rows, workspace);
        return py::none();
    }

private:
    // A model input: a float32 array whose rows are contiguous, or a sparse matrix
    // (csr_arg's tuple) for an input that only dense layers read.
    struct Input {
        const float* x = nullptr;
        int64_t ldx = 0;
        CsrRows csr;
        int64_t rows = 0;
    };
    Input input_arg(const py::object& obj, int i, std::vector<py::object>* keep) const {
        Input in;
        const int64_t width = program_->input_width(i);
        if (py::isinstance<py::array>(obj)) {
            const Strided2D X = rows_of(py::reinterpret_borrow<py::array>(obj), "an input", width);
            in.x = X.data;
            in.ldx = X.rs;
            in.rows = X.rows;
            if (keep) keep->push_back(obj);
            return in;
        }
        const std::string name = "input " + std::to_string(i);
        in.csr = csr_arg(obj, width, name, &in.rows, keep);
        if (!program_->sparse_input_ok(i))
            throw py::value_error(name + " is sparse, but a step other than a dense layer reads it");
        return in;
    }

    static float* flat(py::array& a, const char* name) {
        require_float32(a, name);
        if (a.ndim() != 1 || !(a.flags() & py::array::c_style) || !a.writeable())
            throw py::value_error(std::string(name) + " must be a writeable 1-d C-contiguous array");
        return static_cast<float*>(a.mutable_data());
    }

    float* slot(const py::object& obj, const char* name) {
        if (obj.is_none()) return nullptr;
        if (!py::isinstance<py::array>(obj)) throw py::type_error(std::string(name) + " must be an array or None");
        py::array a = py::reinterpret_borrow<py::array>(obj);
        keep_.push_back(obj);
        return inplace_ptr(a, grads_, name);
    }

    void mine(const DataBinding& d) const {
        if (d.owner != id_) throw py::value_error("this data was bound by another program");
    }

    // A workspace of this program, held by this call until it returns.
    class Busy {
    public:
        explicit Busy(WorkspaceBinding& w) : w_(&w) {}
        Busy(Busy&& o) noexcept : w_(o.w_) { o.w_ = nullptr; }
        ~Busy() {
            if (w_) w_->busy.store(false, std::memory_order_release);
        }

    private:
        WorkspaceBinding* w_;
    };
    Busy use(WorkspaceBinding& w) const {
        if (w.owner != id_) throw py::value_error("this workspace belongs to another program");
        if (w.busy.exchange(true, std::memory_order_acquire))
            throw std::runtime_error("this workspace is in use by another thread (each thread needs its own)");
        return Busy(w);
    }

    // Seconds a step of B rows takes, roughly (run_kernel only compares it with its threshold).
    double step_seconds(int64_t B, bool backward) const {
        const double flops = 2.0 * static_cast<double>(B) * static_cast<double>(params_.size());
        return estimated_seconds(backward ? 3.0 * flops : flops, static_cast<double>(params_.size()));
    }

    void output_index(int o) const {
        if (o < 0 || o >= program_->n_outputs()) throw py::index_error("no such output");
    }

    static const int64_t* index_rows(const py::array& rows) {
        if (!py::isinstance<py::array_t<int64_t>>(rows) || rows.ndim() != 1 ||
            !(rows.flags() & py::array::c_style))
            throw py::type_error("rows must be a 1-d C-contiguous int64 array");
        return static_cast<const int64_t*>(rows.data());
    }

    double* stats_ptr(py::array& stats) const {
        return contiguous_data<double>(stats, 2 * program_->n_outputs() + 1, "stats", true);
    }

    // The update of this step from the optimizer's hyper-parameters (float64), as the
    // ops.*_update function of the same kind takes them: sgd (lr, momentum), rmsprop (lr, rho,
    // momentum, epsilon), adagrad (lr, epsilon), adam (lr, beta_1, beta_2, epsilon) at the
    // 1-based `step`. Complements are taken in double and rounded once, as Keras does.
    OptimizerStep optimizer_step(const py::array& hyper, int64_t step) const {
        static const int count[] = {2, 4, 2, 4};
        const int kind = static_cast<int>(opt_.kind);
        const double* h = contiguous_data<double>(hyper, count[kind], "hyper", false);
        OptimizerStep o = opt_;
        switch (opt_.kind) {
            case OptimizerKind::sgd:
                if (h[1] != 0.0 && !o.slot0) throw py::value_error("velocity is required when momentum != 0");
                if (h[1] == 0.0) o.slot0 = nullptr;
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                break;
            case OptimizerKind::rmsprop:
                if (!o.slot0 || (h[2] > 0.0 && !o.slot1)) throw py::value_error("RMSprop is missing a slot");
                if (!(h[2] > 0.0)) o.slot1 = nullptr;
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                o.h[2] = static_cast<float>(1.0 - h[1]);
                o.h[3] = static_cast<float>(h[2]);
                o.h[4] = static_cast<float>(h[3]);
                break;
            case OptimizerKind::adagrad:
                if (!o.slot0) throw py::value_error("Adagrad needs its accumulator");
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                break;
            case OptimizerKind::adam:
                if (step < 1) throw py::value_error("step must be >= 1");
                if (!o.slot0 || !o.slot1) throw py::value_error("Adam needs m and v");
                o.h[0] = static_cast<float>(adam_step_size(h[0], h[1], h[2], step));
                o.h[1] = static_cast<float>(1.0 - h[1]);
                o.h[2] = static_cast<float>(1.0 - h[2]);
                o.h[3] = static_cast<float>(h[3]);
                break;
            default:
                throw py::value_error("unknown optimizer kind");
        }
        return o;
    }

    static uint64_t next_id() {
        static std::atomic<uint64_t> ids{0};
        return ++ids;
    }

    const uint64_t id_ = next_id();  // not the address: a later program may reuse that
    py::array params_, grads_;
    std::vector<py::object> keep_;
    std::unique_ptr<Program> program_;
    OptimizerStep opt_{};
    bool has_opt_ = false;
    std::shared_ptr<ProgramLocks> locks_ = ProgramLocks::make();
};

}  // namespace

void init_nn(py::module_& m) {
    py::enum_<Activation>(m, "Activation", "Activations the C++ dense layer and program run.")
        .value("linear", Activation::linear).value("relu", Activation::relu)
        .value("sigmoid", Activation::sigmoid).value("tanh", Activation::tanh)
        .value("softmax", Activation::softmax);
    py::enum_<StepKind>(m, "StepKind", "The kinds of a compiled program's steps.")
        .value("input", StepKind::input).value("dense", StepKind::dense)
        .value("activation", StepKind::activation).value("dropout", StepKind::dropout)
        .value("add", StepKind::add).value("subtract", StepKind::subtract)
        .value("multiply", StepKind::multiply).value("average", StepKind::average)
        .value("concatenate", StepKind::concatenate);
    py::enum_<LossKind>(m, "LossKind", "The output losses a compiled program computes.")
        .value("none", LossKind::none).value("softmax_xent", LossKind::softmax_xent)
        .value("sigmoid_bce", LossKind::sigmoid_bce).value("mse", LossKind::mse)
        .value("mae", LossKind::mae);
    py::enum_<MetricKind>(m, "MetricKind", "The metrics a compiled program counts itself.")
        .value("none", MetricKind::none)
        .value("categorical_accuracy", MetricKind::categorical_accuracy)
        .value("binary_accuracy", MetricKind::binary_accuracy);
    py::enum_<OptimizerKind>(m, "OptimizerKind", "The optimizers a compiled program runs.")
        .value("sgd", OptimizerKind::sgd).value("rmsprop", OptimizerKind::rmsprop)
        .value("adagrad", OptimizerKind::adagrad).value("adam", OptimizerKind::adam);

    m.def("dense_forward", &dense_forward_binding, py::arg("x"), py::arg("kernel"), py::arg("bias"),
          py::arg("y"), py::arg("activation"), py::arg("bf16") = false,
          "y = activation(x @ kernel + bias): x (B, D) with contiguous rows, kernel (D, U) and "
          "bias (U,) or None C-contiguous, y (B, U); the bias and the activation (linear, relu, "
          "sigmoid, tanh) in the GEMM's epilogue; bf16: the GEMM on bfloat16 operands.");
    m.def("dense_backward", &dense_backward_binding, py::arg("dz"), py::arg("x"), py::arg("kernel"),
          py::arg("dx"), py::arg("dw"), py::arg("db"), py::arg("bf16") = false,
          "From dz (B, U), the gradient w.r.t. x @ kernel + bias: dx = dz kernel^T (B, D), "
          "dw = x^T dz (D, U), db = the column sums of dz (U,); each written when not None; "
          "bf16: the GEMMs on bfloat16 operands.");
    m.def("dense_forward_sparse", &dense_forward_sparse_binding, py::arg("x"), py::arg("kernel"),
          py::arg("bias"), py::arg("y"), py::arg("activation"),
          "dense_forward for a sparse x, the tuple (indptr int64, indices int32, data float32) of a "
          "CSR matrix with kernel.shape[0] columns; y (B, U).");
    m.def("dense_backward_sparse", &dense_backward_sparse_binding, py::arg("dz"), py::arg("x"),
          py::arg("dw"), py::arg("db"), py::arg("columns"),
          "dw = x^T dz (columns, U) and db = the column sums of dz, each written when not None, for "
          "a sparse x (indptr, indices, data) of `columns` columns.");
    m.def("dropout_forward", &dropout_forward_binding, py::arg("x"), py::arg("y"), py::arg("mask"),
          py::arg("rate"), py::arg("seed"), py::arg("counter"),
          "y = x * mask with mask = (u(seed, counter, i) >= rate) / (1 - rate), i the row-major "
          "index; all C-contiguous float32 of one size.");
    m.def("dropout_backward", &dropout_backward_binding, py::arg("dy"), py::arg("mask"), py::arg("dx"),
          "dx = dy * mask.");

    py::class_<DataBinding>(m, "ProgramData", "A dataset's arrays bound to one compiled program.");
    py::class_<WorkspaceBinding>(m, "ProgramWorkspace",
                                 "A thread's scratch for one compiled program (Program.workspace).");
    py::class_<ProgramBinding>(m, "Program",
                               "A model's graph compiled to C++: one call per training step "
                               "(gather, forward, losses, backward, regularization, update), per "
                               "evaluation batch, or for inference.")
        .def(py::init<py::array, py::array, const std::vector<int64_t>&,
                      const std::vector<StepSpec>&, const std::vector<OutputSpec>&,
                      const std::vector<RegularizerSpec>&, const py::object&>(),
             py::arg("params"), py::arg("grads"), py::arg("widths"), py::arg("steps"),
             py::arg("outputs"), py::arg("regularizers"), py::arg("optimizer"))
        .def("data", &ProgramBinding::data, py::arg("inputs"), py::arg("targets"))
        .def("workspace", &ProgramBinding::workspace,
             "Scratch for running this program: one per thread.")
        .def("train_step", &ProgramBinding::train_step, py::arg("workspace"), py::arg("data"),
             py::arg("rows"), py::arg("hyper"), py::arg("step"), py::arg("stats"))
        .def("test_step", &ProgramBinding::test_step, py::arg("workspace"), py::arg("data"),
             py::arg("rows"), py::arg("stats"))
        .def("predict", &ProgramBinding::predict, py::arg("workspace"), py::arg("inputs"),
             py::arg("outputs"))
        .def("predictions", &ProgramBinding::predictions, py::arg("workspace"), py::arg("output"))
        .def("targets", &ProgramBinding::targets, py::arg("workspace"), py::arg("output"));
}

}  // namespace fastnn_bindings
