// Bindings of the op kernels: GEMM, element-wise with broadcasting, reductions, softmax and the
// fused softmax cross-entropy. Every kernel runs with the GIL released.
#include <vector>

#include "../kernels/elementwise.h"
#include "../kernels/gemm.h"
#include "../kernels/reduce.h"
#include "../kernels/softmax_xent.h"
#include "common.h"

namespace fastnn_bindings {

using namespace fastnn;

namespace {

void sgemm_binding(const py::array& a, const py::array& b, py::array& c, bool trans_a,
                   bool trans_b, float alpha, float beta, bool bf16) {
    Strided2D A = strided_2d(a, "a"), B = strided_2d(b, "b");
    if (trans_a) { std::swap(A.rows, A.cols); std::swap(A.rs, A.cs); }
    if (trans_b) { std::swap(B.rows, B.cols); std::swap(B.rs, B.cs); }
    if (A.cols != B.rows)
        throw py::value_error("matmul: inner dimensions differ: op(a) is (" + std::to_string(A.rows) +
                              ", " + std::to_string(A.cols) + "), op(b) is (" +
                              std::to_string(B.rows) + ", " + std::to_string(B.cols) + ")");
    float* C = output_ptr(c, {A.rows, B.cols}, "out");
    const double m = static_cast<double>(A.rows), n = static_cast<double>(B.cols), k = static_cast<double>(A.cols);
    run_kernel(estimated_seconds(2 * m * n * k, m * k + k * n + m * n), [&] {
        sgemm(A.rows, B.cols, A.cols, alpha, A.data, A.rs, A.cs, B.data, B.rs, B.cs, beta, C, B.cols,
              nullptr, precision_of(bf16));
    });
}

// ---- element-wise bindings ----

// ---- element-wise ----

void binary_binding(BinaryOp op, const py::array& a, const py::array& b, py::array& out) {
    if (static_cast<int>(op) < 0 || op >= BinaryOp::count) throw py::value_error("unknown binary op");
    const StridedND in[2] = {strided_nd(a, "a"), strided_nd(b, "b")};
    float* o = nullptr;
    const BroadcastPlan plan = broadcast_to_out(out, in, 2, &o);
    if (out.size() == 0) return;
    run_kernel(estimated_seconds(0, 3.0 * static_cast<double>(out.size())),
               [&] { binary_forward(op, o, in[0].data, in[1].data, plan); });
}

void unary_binding(UnaryOp op, const py::array& x, py::array& out) {
    if (static_cast<int>(op) < 0 || op >= UnaryOp::count) throw py::value_error("unknown unary op");
    const StridedND in[1] = {strided_nd(x, "x")};
    if (out.ndim() != x.ndim()) throw py::value_error("out must have the shape of x");
    float* o = nullptr;
    const BroadcastPlan plan = broadcast_to_out(out, in, 1, &o);
    for (py::ssize_t d = 0; d < x.ndim(); ++d)
        if (out.shape(d) != x.shape(d)) throw py::value_error("out must have the shape of x");
    if (out.size() == 0) return;
    run_kernel(estimated_seconds(0, 2.0 * static_cast<double>(out.size())),
               [&] { unary_forward(op, o, in[0].data, plan); });
}

// ---- reductions ----

void sum_binding(const py::array& x, py::array& out, int64_t outer, int64_t reduced, int64_t inner) {
    const float* xp = contiguous_data<float>(x, checked_size({outer, reduced, inner}, "x"), "x", false);
    float* op = contiguous_data<float>(out, checked_size({outer, inner}, "out"), "out", true);
    run_kernel(estimated_seconds(0, static_cast<double>(x.size())),
               [&] { sum_forward(op, xp, outer, reduced, inner); });
}

void argmax_binding(const py::array& x, py::array& out, int64_t outer, int64_t reduced, int64_t inner) {
    if (reduced == 0) throw py::value_error("argmax of an empty sequence");
    const float* xp = contiguous_data<float>(x, checked_size({outer, reduced, inner}, "x"), "x", false);
    int64_t* op = contiguous_data<int64_t>(out, checked_size({outer, inner}, "out"), "out", true);
    run_kernel(estimated_seconds(0, static_cast<double>(x.size())),
               [&] { argmax_forward(op, xp, outer, reduced, inner); });
}

// ---- softmax and cross-entropy bindings ----

void softmax_binding(const py::array& x, py::array& out, int64_t n, int64_t k) {
    const float* xp = contiguous_data<float>(x, checked_size({n, k}, "x"), "x", false);
    float* op = contiguous_data<float>(out, checked_size({n, k}, "out"), "out", true);
    run_kernel(estimated_seconds(10.0 * static_cast<double>(x.size()), 2.0 * static_cast<double>(x.size())),
               [&] { softmax_forward(op, xp, n, k); });
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
    double loss = 0.0;
    run_kernel(estimated_seconds(10.0 * static_cast<double>(n * k), 3.0 * static_cast<double>(n * k)),
               [&] { loss = softmax_xent_forward(g, rows, z, lab, tgt, n, k); });
    return loss;
}

}  // namespace

void init_ops(py::module_& m) {
    py::enum_<BinaryOp>(m, "BinaryOp", "The element-wise binary kernels (and activation gradients).")
        .value("add", BinaryOp::add).value("subtract", BinaryOp::subtract)
        .value("multiply", BinaryOp::multiply).value("divide", BinaryOp::divide)
        .value("maximum", BinaryOp::maximum).value("minimum", BinaryOp::minimum)
        .value("relu_grad", BinaryOp::relu_grad).value("sigmoid_grad", BinaryOp::sigmoid_grad)
        .value("tanh_grad", BinaryOp::tanh_grad);
    py::enum_<UnaryOp>(m, "UnaryOp", "The element-wise unary kernels.")
        .value("relu", UnaryOp::relu).value("sigmoid", UnaryOp::sigmoid).value("tanh", UnaryOp::tanh)
        .value("exp", UnaryOp::exp).value("log", UnaryOp::log);

    // ---- GEMM ----
    m.def("sgemm", &sgemm_binding, py::arg("a"), py::arg("b"), py::arg("out"),
          py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
          py::arg("bf16") = false,
          "out = alpha * op(a) @ op(b) + beta * out; a, b float32 2-d (any strides); out float32 "
          "C-contiguous; bf16: a and b rounded to bfloat16, products accumulated in float32.");

    // ---- element-wise ----
    m.def("binary", &binary_binding, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out"),
          "out = op(a, b) with numpy broadcasting.");
    m.def("unary", &unary_binding, py::arg("op"), py::arg("x"), py::arg("out"),
          "out = op(x).");

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
}

}  // namespace fastnn_bindings
