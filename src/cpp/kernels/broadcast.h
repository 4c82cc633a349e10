// NumPy broadcasting as strides: the output shape, and each input's strides along it (0 where
// the input is broadcast), with adjacent dimensions merged wherever every operand allows.
#pragma once

#include <cstdint>

namespace fastnn {

constexpr int MAX_DIMS = 64;  // numpy's limit

// Up to two inputs walked alongside a C-contiguous output.
struct BroadcastPlan {
    int ndim = 0;
    int64_t shape[MAX_DIMS];
    int64_t stride[2][MAX_DIMS];  // in elements
};

// in_shape[k] / in_strides[k] (elements) describe input k with in_ndim[k] <= ndim dimensions,
// aligned to the right of out_shape (numpy's rule). Dimensions of size 1 are dropped and
// neighbours merged when, for every operand, the outer stride is the inner stride times the
// inner size. The caller has checked that the shapes broadcast.
inline BroadcastPlan make_broadcast_plan(int ndim, const int64_t* out_shape, int n_inputs,
                                         const int* in_ndim, const int64_t* const* in_shape,
                                         const int64_t* const* in_strides) {
    BroadcastPlan full;
    full.ndim = ndim;
    for (int d = 0; d < ndim; ++d) {
        full.shape[d] = out_shape[d];
        for (int k = 0; k < 2; ++k) {
            int64_t s = 0;
            const int kd = k < n_inputs ? d - (ndim - in_ndim[k]) : -1;
            if (kd >= 0 && in_shape[k][kd] != 1) s = in_strides[k][kd];
            full.stride[k][d] = s;
        }
    }
    BroadcastPlan plan;
    plan.ndim = 0;
    for (int d = 0; d < ndim; ++d) {
        if (full.shape[d] == 1) continue;
        if (plan.ndim > 0) {
            const int last = plan.ndim - 1;
            bool mergeable = true;
            for (int k = 0; k < 2; ++k)
                mergeable = mergeable && plan.stride[k][last] == full.stride[k][d] * full.shape[d];
            if (mergeable) {
                plan.shape[last] *= full.shape[d];
                for (int k = 0; k < 2; ++k) plan.stride[k][last] = full.stride[k][d];
                continue;
            }
        }
        plan.shape[plan.ndim] = full.shape[d];
        for (int k = 0; k < 2; ++k) plan.stride[k][plan.ndim] = full.stride[k][d];
        ++plan.ndim;
    }
    if (plan.ndim == 0) {  // a single element
        plan.ndim = 1;
        plan.shape[0] = 1;
        plan.stride[0][0] = plan.stride[1][0] = 0;
    }
    return plan;
}

}  // namespace fastnn
