// The only pybind11 file: checks arguments, takes raw pointers out of numpy arrays, releases the
// GIL around every kernel. User-facing validation and dtype conversion live in fastnn/ops.py;
// the checks here are the last line of defence against memory errors when _C is called directly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
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

// ---- reduction bindings ----

// ---- softmax and cross-entropy bindings ----

// ---- optimizer bindings ----

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
    m.attr("compiler") = FASTNN_COMPILER;
    m.attr("base_flags") = FASTNN_BASE_FLAGS;
    m.attr("simd_flags") = FASTNN_SIMD_FLAGS;

    // ---- GEMM ----
    m.def("sgemm", &sgemm_binding, py::arg("a"), py::arg("b"), py::arg("out"),
          py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
          "out = alpha * op(a) @ op(b) + beta * out; a, b float32 2-d (any strides); out float32 "
          "C-contiguous.");

    // ---- element-wise ----

    // ---- reductions ----

    // ---- softmax and cross-entropy ----

    // ---- optimizer updates ----
}
