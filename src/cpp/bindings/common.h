// Helpers shared by the binding files: argument checks and raw pointers out of numpy arrays.
// Every check here is the last line of defence against memory errors when _C is called
// directly; user-facing validation and dtype conversion live in fastnn's Python code.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "../kernels/broadcast.h"
#include "../kernels/gemm.h"
#include "calls.h"

namespace fastnn_bindings {

namespace py = pybind11;
using fastnn::BroadcastPlan;
using fastnn::MAX_DIMS;
using fastnn::make_broadcast_plan;

// The product of extents a caller passed (not a numpy shape, which numpy has already checked),
// as the element count of `name`: a ValueError when one is negative or the product leaves the
// range of sizes, before any pointer arithmetic could wrap around.
inline int64_t checked_size(std::initializer_list<int64_t> extents, const char* name) {
    constexpr int64_t LIMIT = INT64_MAX / 8;  // bytes of the largest element stay in range
    int64_t n = 1;
    for (int64_t e : extents) {
        if (e < 0) throw py::value_error(std::string(name) + ": negative extent " + std::to_string(e));
        if (e != 0 && n > LIMIT / e)
            throw py::value_error(std::string(name) + ": the extents' product overflows");
        n *= e;
    }
    // A zero extent still needs the others to be sizes: 0 x 2**62 x 4 is no array.
    for (int64_t e : extents)
        if (e > LIMIT) throw py::value_error(std::string(name) + ": extent " + std::to_string(e) + " is too large");
    return n;
}

inline std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        s += std::to_string(a.shape(i));
        if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
    }
    return s + ")";
}

inline fastnn::GemmPrecision precision_of(bool bf16) {
    return bf16 ? fastnn::GemmPrecision::bfloat16 : fastnn::GemmPrecision::float32;
}

// Whether d is T's dtype. numpy may hold several equal dtype objects (an unpickled array, as
// joblib and Dask hand them over, has its own), so identity is only the fast path.
template <class T>
bool is_dtype(const py::dtype& d) {
    const py::dtype want = py::dtype::of<T>();
    return d.is(want) || (d.kind() == want.kind() && d.itemsize() == want.itemsize() &&
                          d.attr("isnative").cast<bool>());
}

inline void require_float32(const py::array& a, const char* name) {
    if (!is_dtype<float>(a.dtype()))
        throw py::type_error(std::string(name) + " must be a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    // A view that starts mid-float (e.g. of a byte buffer) would be undefined behaviour to load;
    // an empty one is never loaded from (and numpy calls it aligned).
    if (a.size() > 0 && reinterpret_cast<uintptr_t>(a.data()) % alignof(float) != 0)
        throw py::value_error(std::string(name) + " must be aligned to 4 bytes (copy it first)");
}

// A float32 array read through its strides (counted in elements, possibly negative or zero).
struct Strided2D {
    const float* data;
    int64_t rows, cols, rs, cs;
};

inline Strided2D strided_2d(const py::array& a, const char* name) {
    require_float32(a, name);
    if (a.ndim() != 2)
        throw py::value_error(std::string(name) + " must be 2-d, got shape " + shape_str(a));
    if (a.strides(0) % 4 != 0 || a.strides(1) % 4 != 0)
        throw py::value_error(std::string(name) + " has strides that are not a multiple of 4 bytes");
    return {static_cast<const float*>(a.data()), a.shape(0), a.shape(1), a.strides(0) / 4,
            a.strides(1) / 4};
}

// An output: float32, C-contiguous, writeable, with exactly the expected shape.
inline float* output_ptr(py::array& out, std::initializer_list<int64_t> shape, const char* name) {
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

// A float32 array of any dimension read through its strides (in elements, possibly 0 or negative).
struct StridedND {
    const float* data;
    int ndim;
    int64_t shape[MAX_DIMS];
    int64_t strides[MAX_DIMS];
};

inline StridedND strided_nd(const py::array& a, const char* name) {
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
inline BroadcastPlan broadcast_to_out(py::array& out, const StridedND* in, int n_inputs, float** out_data) {
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

// A C-contiguous array of exactly n elements of the given dtype.
template <class T>
T* contiguous_data(const py::array& a, int64_t n, const char* name, bool writeable) {
    if (!is_dtype<T>(a.dtype()))
        throw py::type_error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                             ", expected " + std::string(py::str(py::dtype::of<T>())));
    if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
    if (a.size() != n) throw py::value_error(std::string(name) + " has " + std::to_string(a.size()) +
                                             " elements, expected " + std::to_string(n));
    if (writeable && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

// A buffer updated in place (param or an optimizer slot): float32, C-contiguous, writeable, with
// param's shape.
inline float* inplace_ptr(py::array& a, const py::array& param, const char* name) {
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
inline float* optional_slot_ptr(const py::object& obj, const py::array& param, const char* name,
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

inline const float* grad_ptr(const py::array& g, const py::array& param) {
    require_float32(g, "grad");
    bool same = g.ndim() == param.ndim();
    for (py::ssize_t i = 0; same && i < g.ndim(); ++i) same = g.shape(i) == param.shape(i);
    if (!same)
        throw py::value_error("grad has shape " + shape_str(g) + " but param has shape " +
                              shape_str(param));
    if (!(g.flags() & py::array::c_style)) throw py::value_error("grad must be C-contiguous");
    return static_cast<const float*>(g.data());
}

inline bool overlaps(const float* a, const float* b, int64_t n) {
    return a && b && a < b + n && b < a + n;
}

// The kernels work through restrict pointers. Buffers they write must be distinct arrays...
inline void require_disjoint(int64_t n, std::initializer_list<std::pair<const float*, const char*>> bufs) {
    for (auto a = bufs.begin(); a != bufs.end(); ++a)
        for (auto b = a + 1; b != bufs.end(); ++b)
            if (overlaps(a->first, b->first, n))
                throw py::value_error(std::string(a->second) + " and " + b->second +
                                      " share memory; each optimizer buffer must be a separate "
                                      "array");
}

// ...while a grad that aliases one of them (say, a gradient computed in place of a state slot)
// is legitimate: the update then reads a copy taken before anything is written. `keep` owns it.
inline const float* unaliased_grad(const float* g, int64_t n, std::initializer_list<const float*> written,
                            py::array_t<float>& keep) {
    for (const float* w : written) {
        if (overlaps(g, w, n)) {
            keep = py::array_t<float>(n, g);  // no base object given: pybind11 copies the data
            return keep.data();
        }
    }
    return g;
}

}  // namespace fastnn_bindings
