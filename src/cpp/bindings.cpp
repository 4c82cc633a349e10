// The only pybind11 file: checks arguments, takes raw pointers out of numpy arrays, releases the
// GIL around every kernel. User-facing validation and dtype conversion live in fastnn/ops.py;
// the checks here are the last line of defence against memory errors when _C is called directly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/memory.h"
#include "kernels/mlp.h"
#include "kernels/optim.h"
#include "kernels/peak.h"
#include "kernels/reduce.h"
#include "kernels/softmax_xent.h"
#include "kernels/threadpool.h"

namespace py = pybind11;
using namespace fastnn;

namespace {

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        s += std::to_string(a.shape(i));
        if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
    }
    return s + ")";
}

void require_float32(const py::array& a, const char* name) {
    if (!a.dtype().is(py::dtype::of<float>()))
        throw py::type_error(std::string(name) + " must be a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    // A view that starts mid-float (e.g. of a byte buffer) would be undefined behaviour to load.
    if (reinterpret_cast<uintptr_t>(a.data()) % alignof(float) != 0)
        throw py::value_error(std::string(name) + " must be aligned to 4 bytes (copy it first)");
}

// A float32 array read through its strides (counted in elements, possibly negative or zero).
struct Strided2D {
    const float* data;
    int64_t rows, cols, rs, cs;
};

Strided2D strided_2d(const py::array& a, const char* name) {
    require_float32(a, name);
    if (a.ndim() != 2)
        throw py::value_error(std::string(name) + " must be 2-d, got shape " + shape_str(a));
    if (a.strides(0) % 4 != 0 || a.strides(1) % 4 != 0)
        throw py::value_error(std::string(name) + " has strides that are not a multiple of 4 bytes");
    return {static_cast<const float*>(a.data()), a.shape(0), a.shape(1), a.strides(0) / 4,
            a.strides(1) / 4};
}

// An output: float32, C-contiguous, writeable, with exactly the expected shape.
float* output_ptr(py::array& out, std::initializer_list<int64_t> shape, const char* name) {
    require_float32(out, name);
    bool ok = out.ndim() == static_cast<py::ssize_t>(shape.size());
    py::ssize_t i = 0;
    for (int64_t d : shape) ok = ok && out.shape(i++) == d;
    if (!ok) throw py::value_error(std::string(name) + " has shape " + shape_str(out) + ", expected another shape");
    if (!(out.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + " must be C-contiguous");
    if (!out.writeable()) throw py::value_error(std::string(name) + " is read-only");
    return static_cast<float*>(out.mutable_data());
}

void sgemm_binding(const py::array& a, const py::array& b, py::array& c, bool trans_a,
                   bool trans_b, float alpha, float beta) {
    Strided2D A = strided_2d(a, "a"), B = strided_2d(b, "b");
    if (trans_a) { std::swap(A.rows, A.cols); std::swap(A.rs, A.cs); }
    if (trans_b) { std::swap(B.rows, B.cols); std::swap(B.rs, B.cs); }
    if (A.cols != B.rows)
        throw py::value_error("matmul: inner dimensions differ: op(a) is (" + std::to_string(A.rows) +
                              ", " + std::to_string(A.cols) + "), op(b) is (" +
                              std::to_string(B.rows) + ", " + std::to_string(B.cols) + ")");
    float* C = output_ptr(c, {A.rows, B.cols}, "out");
    py::gil_scoped_release release;
    sgemm(A.rows, B.cols, A.cols, alpha, A.data, A.rs, A.cs, B.data, B.rs, B.cs, beta, C, B.cols);
}

// ---- element-wise bindings ----

// A float32 array of any dimension read through its strides (in elements, possibly 0 or negative).
struct StridedND {
    const float* data;
    int ndim;
    int64_t shape[MAX_DIMS];
    int64_t strides[MAX_DIMS];
};

StridedND strided_nd(const py::array& a, const char* name) {
    require_float32(a, name);
    if (a.ndim() > MAX_DIMS) throw py::value_error(std::string(name) + " has too many dimensions");
    StridedND v;
    v.data = static_cast<const float*>(a.data());
    v.ndim = static_cast<int>(a.ndim());
    for (int d = 0; d < v.ndim; ++d) {
        if (a.strides(d) % 4 != 0)
            throw py::value_error(std::string(name) + " has strides that are not a multiple of 4 bytes");
        v.shape[d] = a.shape(d);
        v.strides[d] = a.strides(d) / 4;
    }
    return v;
}

// out must be float32, C-contiguous and writeable, with every input broadcasting to its shape.
BroadcastPlan broadcast_to_out(py::array& out, const StridedND* in, int n_inputs, float** out_data) {
    require_float32(out, "out");
    if (!(out.flags() & py::array::c_style)) throw py::value_error("out must be C-contiguous");
    if (!out.writeable()) throw py::value_error("out is read-only");
    const int nd = static_cast<int>(out.ndim());
    int64_t shape[MAX_DIMS];
    for (int d = 0; d < nd; ++d) shape[d] = out.shape(d);
    int ndims[2];
    const int64_t* shapes[2];
    const int64_t* strides[2];
    for (int k = 0; k < n_inputs; ++k) {
        bool ok = in[k].ndim <= nd;
        for (int d = 0; ok && d < in[k].ndim; ++d) {
            const int64_t s = in[k].shape[d], o = shape[nd - in[k].ndim + d];
            ok = s == o || s == 1;
        }
        if (!ok) throw py::value_error("operand " + std::to_string(k) +
                                       " does not broadcast to out's shape " + shape_str(out));
        ndims[k] = in[k].ndim;
        shapes[k] = in[k].shape;
        strides[k] = in[k].strides;
    }
    *out_data = static_cast<float*>(out.mutable_data());
    return make_broadcast_plan(nd, shape, n_inputs, ndims, shapes, strides);
}

void binary_binding(int op, const py::array& a, const py::array& b, py::array& out) {
    if (op < 0 || op >= static_cast<int>(BinaryOp::count)) throw py::value_error("unknown binary op");
    const StridedND in[2] = {strided_nd(a, "a"), strided_nd(b, "b")};
    float* o = nullptr;
    const BroadcastPlan plan = broadcast_to_out(out, in, 2, &o);
    if (out.size() == 0) return;
    py::gil_scoped_release release;
    binary_forward(static_cast<BinaryOp>(op), o, in[0].data, in[1].data, plan);
}

void unary_binding(int op, const py::array& x, py::array& out) {
    if (op < 0 || op >= static_cast<int>(UnaryOp::count)) throw py::value_error("unknown unary op");
    const StridedND in[1] = {strided_nd(x, "x")};
    if (out.ndim() != x.ndim()) throw py::value_error("out must have the shape of x");
    float* o = nullptr;
    const BroadcastPlan plan = broadcast_to_out(out, in, 1, &o);
    for (py::ssize_t d = 0; d < x.ndim(); ++d)
        if (out.shape(d) != x.shape(d)) throw py::value_error("out must have the shape of x");
    if (out.size() == 0) return;
    py::gil_scoped_release release;
    unary_forward(static_cast<UnaryOp>(op), o, in[0].data, plan);
}

// ---- reduction bindings ----

// A C-contiguous array of exactly n elements of the given dtype.
template <class T>
T* contiguous_data(const py::array& a, int64_t n, const char* name, bool writeable) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                             ", expected " + std::string(py::str(py::dtype::of<T>())));
    if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
    if (a.size() != n) throw py::value_error(std::string(name) + " has " + std::to_string(a.size()) +
                                             " elements, expected " + std::to_string(n));
    if (writeable && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

void sum_binding(const py::array& x, py::array& out, int64_t outer, int64_t reduced, int64_t inner) {
    if (outer < 0 || reduced < 0 || inner < 0) throw py::value_error("negative extent");
    const float* xp = contiguous_data<float>(x, outer * reduced * inner, "x", false);
    float* op = contiguous_data<float>(out, outer * inner, "out", true);
    py::gil_scoped_release release;
    sum_forward(op, xp, outer, reduced, inner);
}

void argmax_binding(const py::array& x, py::array& out, int64_t outer, int64_t reduced, int64_t inner) {
    if (outer < 0 || reduced < 1 || inner < 0) throw py::value_error("argmax of an empty sequence");
    const float* xp = contiguous_data<float>(x, outer * reduced * inner, "x", false);
    int64_t* op = contiguous_data<int64_t>(out, outer * inner, "out", true);
    py::gil_scoped_release release;
    argmax_forward(op, xp, outer, reduced, inner);
}

// ---- softmax and cross-entropy bindings ----

void softmax_binding(const py::array& x, py::array& out, int64_t n, int64_t k) {
    if (n < 0 || k < 0) throw py::value_error("negative extent");
    const float* xp = contiguous_data<float>(x, n * k, "x", false);
    float* op = contiguous_data<float>(out, n * k, "out", true);
    py::gil_scoped_release release;
    softmax_forward(op, xp, n, k);
}

// logits (n, k) float32; labels (n,) int64 in [0, k) or None; targets (n, k) float32 or None;
// row_loss (n,) float64 for the per-sample losses, or None.
double softmax_xent_binding(const py::array& logits, const py::object& labels,
                            const py::object& targets, py::array& grad,
                            const py::object& row_loss) {
    require_float32(logits, "logits");
    if (logits.ndim() != 2 || logits.shape(1) < 1)
        throw py::value_error("logits must be 2-d (n, k) with k >= 1, got shape " + shape_str(logits));
    const int64_t n = logits.shape(0), k = logits.shape(1);
    const float* z = contiguous_data<float>(logits, n * k, "logits", false);
    float* g = contiguous_data<float>(grad, n * k, "grad", true);
    const int64_t* lab = nullptr;
    const float* tgt = nullptr;
    if (!labels.is_none() == !targets.is_none())
        throw py::value_error("give exactly one of labels and targets");
    if (!labels.is_none()) {
        const py::array la = labels.cast<py::array>();
        lab = contiguous_data<int64_t>(la, n, "labels", false);
        for (int64_t i = 0; i < n; ++i)  // the last guard against reading outside a row
            if (lab[i] < 0 || lab[i] >= k)
                throw py::value_error("label " + std::to_string(lab[i]) + " at index " +
                                      std::to_string(i) + " is out of range [0, " + std::to_string(k) + ")");
    } else {
        tgt = contiguous_data<float>(targets.cast<py::array>(), n * k, "targets", false);
    }
    std::vector<double> scratch;
    double* rows = nullptr;
    if (row_loss.is_none()) {
        scratch.resize(static_cast<size_t>(n));
        rows = scratch.data();
    } else {
        rows = contiguous_data<double>(row_loss.cast<py::array>(), n, "row_loss", true);
    }
    py::gil_scoped_release release;
    return softmax_xent_forward(g, rows, z, lab, tgt, n, k);
}

// ---- optimizer bindings ----

// A buffer updated in place (param or an optimizer slot): float32, C-contiguous, writeable, with
// param's shape.
float* inplace_ptr(py::array& a, const py::array& param, const char* name) {
    require_float32(a, name);
    bool same = a.ndim() == param.ndim();
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == param.shape(i);
    if (!same)
        throw py::value_error(std::string(name) + " has shape " + shape_str(a) +
                              " but param has shape " + shape_str(param));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + " must be C-contiguous");
    if (!a.writeable()) throw py::value_error(std::string(name) + " is read-only");
    return static_cast<float*>(a.mutable_data());
}

// An optional slot (None when the variant does not use it); needed = the variant reads it.
float* optional_slot_ptr(const py::object& obj, const py::array& param, const char* name,
                         bool needed, const char* why) {
    if (obj.is_none()) {
        if (needed) throw py::value_error(std::string(name) + " is required " + why);
        return nullptr;
    }
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + " must be a numpy float32 array or None");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    return inplace_ptr(a, param, name);
}

const float* grad_ptr(const py::array& g, const py::array& param) {
    require_float32(g, "grad");
    bool same = g.ndim() == param.ndim();
    for (py::ssize_t i = 0; same && i < g.ndim(); ++i) same = g.shape(i) == param.shape(i);
    if (!same)
        throw py::value_error("grad has shape " + shape_str(g) + " but param has shape " +
                              shape_str(param));
    if (!(g.flags() & py::array::c_style)) throw py::value_error("grad must be C-contiguous");
    return static_cast<const float*>(g.data());
}

bool overlaps(const float* a, const float* b, int64_t n) {
    return a && b && a < b + n && b < a + n;
}

// The kernels work through restrict pointers. Buffers they write must be distinct arrays...
void require_disjoint(int64_t n, std::initializer_list<std::pair<const float*, const char*>> bufs) {
    for (auto a = bufs.begin(); a != bufs.end(); ++a)
        for (auto b = a + 1; b != bufs.end(); ++b)
            if (overlaps(a->first, b->first, n))
                throw py::value_error(std::string(a->second) + " and " + b->second +
                                      " share memory; each optimizer buffer must be a separate "
                                      "array");
}

// ...while a grad that aliases one of them (say, a gradient computed in place of a state slot)
// is legitimate: the update then reads a copy taken before anything is written. `keep` owns it.
const float* unaliased_grad(const float* g, int64_t n, std::initializer_list<const float*> written,
                            py::array_t<float>& keep) {
    for (const float* w : written) {
        if (overlaps(g, w, n)) {
            keep = py::array_t<float>(n, g);  // no base object given: pybind11 copies the data
            return keep.data();
        }
    }
    return g;
}

void sgd_update_binding(py::array& param, const py::array& grad, const py::object& velocity,
                        double learning_rate, double momentum, bool nesterov) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* v = optional_slot_ptr(velocity, param, "velocity", momentum != 0.0,
                                 "when momentum != 0");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {v, "velocity"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, v}, grad_copy);
    // The variant follows the double momentum, as Keras' `if self.momentum != 0`.
    if (momentum == 0.0) v = nullptr;
    py::gil_scoped_release release;
    sgd_update(w, v, g, n, static_cast<float>(learning_rate), static_cast<float>(momentum),
               nesterov);
}

void rmsprop_update_binding(py::array& param, const py::array& grad, py::array& velocity,
                            const py::object& momentum_buffer, double learning_rate, double rho,
                            double momentum, double epsilon) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* v = inplace_ptr(velocity, param, "velocity");
    float* m = optional_slot_ptr(momentum_buffer, param, "momentum_buffer", momentum > 0.0,
                                 "when momentum > 0");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {v, "velocity"}, {m, "momentum_buffer"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, v, m}, grad_copy);
    // (1 - rho) in double, rounded once: what Keras gets from its Python-float rho.
    const float one_minus_rho = static_cast<float>(1.0 - rho);
    // The variant follows the double momentum, as Keras' `if self.momentum > 0`.
    if (!(momentum > 0.0)) m = nullptr;
    py::gil_scoped_release release;
    rmsprop_update(w, v, m, g, n, static_cast<float>(learning_rate), static_cast<float>(rho),
                   one_minus_rho, static_cast<float>(momentum), static_cast<float>(epsilon));
}

void adagrad_update_binding(py::array& param, const py::array& grad, py::array& accumulator,
                            double learning_rate, double epsilon) {
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* acc = inplace_ptr(accumulator, param, "accumulator");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {acc, "accumulator"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, acc}, grad_copy);
    py::gil_scoped_release release;
    adagrad_update(w, acc, g, n, static_cast<float>(learning_rate), static_cast<float>(epsilon));
}

void adam_update_binding(py::array& param, const py::array& grad, py::array& m, py::array& v,
                         int64_t step, double learning_rate, double beta_1, double beta_2,
                         double epsilon) {
    if (step < 1)
        throw py::value_error("step must be >= 1 (1-based); Received: step=" +
                              std::to_string(step));
    float* w = inplace_ptr(param, param, "param");
    const float* g = grad_ptr(grad, param);
    float* pm = inplace_ptr(m, param, "m");
    float* pv = inplace_ptr(v, param, "v");
    const int64_t n = param.size();
    require_disjoint(n, {{w, "param"}, {pm, "m"}, {pv, "v"}});
    py::array_t<float> grad_copy;
    g = unaliased_grad(g, n, {w, pm, pv}, grad_copy);
    const float alpha = static_cast<float>(adam_step_size(learning_rate, beta_1, beta_2, step));
    py::gil_scoped_release release;
    adam_update(w, pm, pv, g, n, alpha, static_cast<float>(1.0 - beta_1),
                static_cast<float>(1.0 - beta_2), static_cast<float>(epsilon));
}

// A dense stack over the model's flat parameter and gradient buffers (kept alive here), with
// the scratch of fastnn::Mlp. One call at a time per object: the scratch is shared.
class MlpBinding {
public:
    // layers: (in, out, kernel offset, bias offset or -1, activation: a UnaryOp code or -1).
    MlpBinding(py::array params, py::array grads,
               const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int>>& layers,
               int loss)
        : params_(std::move(params)), grads_(std::move(grads)) {
        float* p = flat_ptr(params_, "params");
        float* g = flat_ptr(grads_, "grads");
        const int64_t n = params_.size();
        if (grads_.size() != n) throw py::value_error("params and grads differ in size");
        if (loss < 0 || loss >= static_cast<int>(MlpLoss::count)) throw py::value_error("unknown loss code");
        std::vector<DenseLayer> dense;
        int64_t covered = 0;
        for (const auto& [in, out, w_off, b_off, act] : layers) {
            covered += in * out + (b_off == -1 ? 0 : out);
            if (in <= 0 || out <= 0 || w_off < 0 || w_off + in * out > n ||
                (b_off != -1 && (b_off < 0 || b_off + out > n)))
                throw py::value_error("a layer's parameters fall outside the flat buffer");
            if (act < -1 || act > static_cast<int>(UnaryOp::tanh))
                throw py::value_error("unknown activation code");
            dense.push_back({in, out, p + w_off, b_off < 0 ? nullptr : p + b_off, g + w_off,
                             b_off < 0 ? nullptr : g + b_off,
                             act < 0 ? UnaryOp::count : static_cast<UnaryOp>(act)});
        }
        // The step's update covers the whole buffer: it must hold these layers' parameters only.
        if (covered != n) throw py::value_error("the layers' parameters do not make up the flat buffer");
        mlp_ = std::make_unique<Mlp>(std::move(dense), static_cast<MlpLoss>(loss));
        in_ = std::get<0>(layers.front());
        out_ = std::get<1>(layers.back());
    }

    // (summed loss, correct predictions) of one step on rows `rows` of x; then the optimizer
    // update of kind `opt` (an OptimizerKind code) with hyper-parameters h:
    //   sgd (lr, momentum), rmsprop (lr, rho, momentum, epsilon), adagrad (lr, epsilon),
    //   adam (lr, beta_1, beta_2, epsilon) at the 1-based `step`.
    std::pair<double, int64_t> train_step(const py::array& x, const py::array& rows,
                                          const py::object& labels, const py::object& targets,
                                          int opt, const py::object& slot0, const py::object& slot1,
                                          const std::vector<double>& h, int64_t step, bool nesterov) {
        const Strided2D X = rows_of(x, "x", in_);
        if (!py::isinstance<py::array_t<int64_t>>(rows) || rows.ndim() != 1 ||
            !(rows.flags() & py::array::c_style))
            throw py::type_error("rows must be a 1-d C-contiguous int64 array");
        const int64_t* r = static_cast<const int64_t*>(rows.data());
        const int64_t* lab = nullptr;
        Strided2D T{nullptr, 0, 0, 0, 0};
        if (labels.is_none() == targets.is_none()) throw py::value_error("give labels or targets");
        if (!labels.is_none()) {
            py::array l = py::reinterpret_borrow<py::array>(labels);
            if (!py::isinstance<py::array_t<int64_t>>(labels) || l.ndim() != 1 ||
                !(l.flags() & py::array::c_style) || l.shape(0) != X.rows)
                throw py::type_error("labels must be a 1-d C-contiguous int64 array, one per row of x");
            lab = static_cast<const int64_t*>(l.data());
        } else {
            T = rows_of(py::reinterpret_borrow<py::array>(targets), "targets", out_);
            if (T.rows != X.rows) throw py::value_error("targets and x differ in length");
        }
        OptimizerStep o = optimizer_step(opt, slot0, slot1, h, step, nesterov);
        const int64_t B = rows.shape(0);
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mutex_);
        const MlpStepResult res = mlp_->train_step(X.data, X.rows, X.rs, r, B, lab, T.data, T.rs, o);
        return {res.loss_sum, res.correct};
    }

    void predict(const py::array& x, py::array& out) {
        const Strided2D X = rows_of(x, "x", in_);
        float* o = output_ptr(out, {X.rows, out_}, "out");
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mutex_);
        mlp_->predict(X.data, X.rows, X.rs, o);
    }

private:
    static float* flat_ptr(py::array& a, const char* name) {
        require_float32(a, name);
        if (a.ndim() != 1 || !(a.flags() & py::array::c_style) || !a.writeable())
            throw py::value_error(std::string(name) + " must be a writeable 1-d C-contiguous array");
        return static_cast<float*>(a.mutable_data());
    }

    // A float32 2-d array whose rows are contiguous and `width` wide.
    static Strided2D rows_of(const py::array& a, const char* name, int64_t width) {
        Strided2D s = strided_2d(a, name);
        if (s.cols != width || (s.cs != 1 && s.cols > 1) || s.rs < width)
            throw py::value_error(std::string(name) + " must have " + std::to_string(width) +
                                  " contiguous columns, got shape " + shape_str(a));
        return s;
    }

    OptimizerStep optimizer_step(int kind, const py::object& slot0, const py::object& slot1,
                                 const std::vector<double>& h, int64_t step, bool nesterov) {
        OptimizerStep o{};
        o.kind = static_cast<OptimizerKind>(kind);
        o.param = static_cast<float*>(params_.mutable_data());
        o.grad = static_cast<const float*>(grads_.data());
        o.n = params_.size();
        o.nesterov = nesterov;
        auto need = [&](size_t count) {
            if (h.size() != count) throw py::value_error("wrong number of optimizer hyper-parameters");
        };
        switch (o.kind) {
            case OptimizerKind::sgd:
                need(2);
                o.slot0 = optional_slot_ptr(slot0, params_, "velocity", h[1] != 0.0, "when momentum != 0");
                if (h[1] == 0.0) o.slot0 = nullptr;
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                break;
            case OptimizerKind::rmsprop:
                need(4);
                o.slot0 = optional_slot_ptr(slot0, params_, "velocity", true, "");
                o.slot1 = optional_slot_ptr(slot1, params_, "momentum_buffer", h[2] > 0.0, "when momentum > 0");
                if (!(h[2] > 0.0)) o.slot1 = nullptr;
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                o.h[2] = static_cast<float>(1.0 - h[1]);
                o.h[3] = static_cast<float>(h[2]);
                o.h[4] = static_cast<float>(h[3]);
                break;
            case OptimizerKind::adagrad:
                need(2);
                o.slot0 = optional_slot_ptr(slot0, params_, "accumulator", true, "");
                o.h[0] = static_cast<float>(h[0]);
                o.h[1] = static_cast<float>(h[1]);
                break;
            case OptimizerKind::adam:
                need(4);
                if (step < 1) throw py::value_error("step must be >= 1");
                o.slot0 = optional_slot_ptr(slot0, params_, "m", true, "");
                o.slot1 = optional_slot_ptr(slot1, params_, "v", true, "");
                o.h[0] = static_cast<float>(adam_step_size(h[0], h[1], h[2], step));
                o.h[1] = static_cast<float>(1.0 - h[1]);
                o.h[2] = static_cast<float>(1.0 - h[2]);
                o.h[3] = static_cast<float>(h[3]);
                break;
            default:
                throw py::value_error("unknown optimizer code");
        }
        require_disjoint(o.n, {{o.param, "params"}, {o.grad, "grads"}, {o.slot0, "slot 0"},
                               {o.slot1, "slot 1"}});
        return o;
    }

    py::array params_, grads_;
    std::unique_ptr<Mlp> mlp_;
    int64_t in_ = 0, out_ = 0;
    std::mutex mutex_;
};

}  // namespace

PYBIND11_MODULE(_C, m) {
    m.doc() = "fastnn's compiled kernels (private: use the fastnn package).";

    // ---- configuration ----
    m.def("arch", [] { return std::string(arch_name(active_arch())); },
          "Kernel path in use: 'avx512', 'avx2' or 'generic'.");
    m.def("cpu_supports_avx2_fma", &cpu_supports_avx2_fma);
    m.def("cpu_supports_avx512", &cpu_supports_avx512);
    m.def("gemm_kernel", [] { return std::string(sgemm_kernel_name()); });
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", &set_num_threads, py::arg("n"), py::call_guard<py::gil_scoped_release>());
    m.def("available_cpus", &available_cpus);
    m.def("measure_peak_flops", &measure_peak_flops, py::arg("seconds") = 1.0,
          py::call_guard<py::gil_scoped_release>(),
          "float32 flop/s of FMA loops on every pool thread, widest vectors the CPU has");
    m.def("allocation_count", &allocation_count,
          "Scratch buffers the kernels have allocated so far (tests check a warm step adds none).");
    m.attr("compiler") = FASTNN_COMPILER;
    m.attr("base_flags") = FASTNN_BASE_FLAGS;
    m.attr("simd_flags") = FASTNN_SIMD_FLAGS;

    // ---- GEMM ----
    m.def("sgemm", &sgemm_binding, py::arg("a"), py::arg("b"), py::arg("out"),
          py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
          "out = alpha * op(a) @ op(b) + beta * out; a, b float32 2-d (any strides); out float32 "
          "C-contiguous.");

    // ---- element-wise ----
    m.def("binary", &binary_binding, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out"),
          "out = op(a, b) with numpy broadcasting; op is a fastnn::BinaryOp code.");
    m.def("unary", &unary_binding, py::arg("op"), py::arg("x"), py::arg("out"),
          "out = op(x); op is a fastnn::UnaryOp code.");

    // ---- reductions ----
    m.def("sum", &sum_binding, py::arg("x"), py::arg("out"), py::arg("outer"), py::arg("reduced"),
          py::arg("inner"), "out[o, i] = sum_r x[o, r, i] (x C-contiguous).");
    m.def("argmax", &argmax_binding, py::arg("x"), py::arg("out"), py::arg("outer"),
          py::arg("reduced"), py::arg("inner"), "out[o, i] = argmax_r x[o, r, i] (int64).");

    // ---- softmax and cross-entropy ----
    m.def("softmax", &softmax_binding, py::arg("x"), py::arg("out"), py::arg("n"), py::arg("k"),
          "Row softmax of an (n, k) C-contiguous array.");
    m.def("softmax_xent", &softmax_xent_binding, py::arg("logits"), py::arg("labels"),
          py::arg("targets"), py::arg("grad"), py::arg("row_loss") = py::none(),
          "Mean softmax cross-entropy of (n, k) logits; writes its gradient into grad and, when "
          "given, each row's loss into row_loss (float64).");

    // ---- optimizer updates ----
    m.def("sgd_update", &sgd_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("velocity"), py::arg("learning_rate"), py::arg("momentum"),
          py::arg("nesterov"),
          "Keras SGD in place. momentum == 0: param -= grad * lr. Otherwise velocity = velocity * "
          "momentum - grad * lr; param += velocity (nesterov: param += velocity * momentum - grad "
          "* lr). All arrays float32, C-contiguous, same shape; velocity may be None at "
          "momentum 0. Buffers written must not share memory (ValueError); a grad sharing "
          "memory with one is copied first.");
    m.def("rmsprop_update", &rmsprop_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("velocity"), py::arg("momentum_buffer"), py::arg("learning_rate"),
          py::arg("rho"), py::arg("momentum"), py::arg("epsilon"),
          "Keras RMSprop in place: velocity = rho * velocity + (1 - rho) * grad^2; increment = lr "
          "* grad / sqrt(velocity + epsilon); momentum > 0: momentum_buffer = momentum * "
          "momentum_buffer + increment, param -= momentum_buffer; else param -= increment. "
          "Buffers written must not share memory (ValueError); a grad sharing memory with one is "
          "copied first.");
    m.def("adagrad_update", &adagrad_update_binding, py::arg("param"), py::arg("grad"),
          py::arg("accumulator"), py::arg("learning_rate"), py::arg("epsilon"),
          "Keras Adagrad in place: accumulator += grad^2; param -= lr * grad / sqrt(accumulator "
          "+ epsilon). Buffers written must not share memory (ValueError); a grad sharing "
          "memory with one is copied first.");
    m.def("adam_update", &adam_update_binding, py::arg("param"), py::arg("grad"), py::arg("m"),
          py::arg("v"), py::arg("step"), py::arg("learning_rate"), py::arg("beta_1"),
          py::arg("beta_2"), py::arg("epsilon"),
          "Keras Adam in place for the 1-based step: alpha = lr * sqrt(1 - beta_2^step) / (1 - "
          "beta_1^step) (double); m += (grad - m) * (1 - beta_1); v += (grad^2 - v) * (1 - "
          "beta_2); param -= m * alpha / (sqrt(v) + epsilon). Buffers written must not share "
          "memory (ValueError); a grad sharing memory with one is copied first.");

    // ---- dense stacks ----
    py::class_<MlpBinding>(m, "Mlp",
                           "A stack of dense layers over flat parameter and gradient buffers: one "
                           "call per training step (gather, forward, loss, backward, update).")
        .def(py::init<py::array, py::array,
                      const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int>>&, int>(),
             py::arg("params"), py::arg("grads"), py::arg("layers"), py::arg("loss"))
        .def("train_step", &MlpBinding::train_step, py::arg("x"), py::arg("rows"),
             py::arg("labels"), py::arg("targets"), py::arg("optimizer"), py::arg("slot0"),
             py::arg("slot1"), py::arg("hyper"), py::arg("step"), py::arg("nesterov"))
        .def("predict", &MlpBinding::predict, py::arg("x"), py::arg("out"));
}
