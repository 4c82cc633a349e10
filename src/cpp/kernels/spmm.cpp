// Sparse x dense products: the split into tasks, and the choice of inner loops for the CPU.
#include "spmm.h"

#include <cstring>

#include "cpu.h"
#include "threadpool.h"

namespace fastnn {

#include "spmm_loops.inc"

const SpmmLoops& spmm_loops_generic() { return loops_of_this_unit; }

namespace {

const SpmmLoops& chosen() {
#ifdef FASTNN_HAVE_AVX512
    if (active_arch() >= Arch::avx512) return spmm_loops_avx512();
#endif
#ifdef FASTNN_HAVE_AVX2
    if (active_arch() >= Arch::avx2) return spmm_loops_avx2();
#endif
    return spmm_loops_generic();
}

// Non-zero x column products below which a product stays on the calling thread.
constexpr int64_t SPMM_PARALLEL_MIN = 1 << 16;
// Rows per task of the forward product (the split depends on the sizes only).
constexpr int64_t SPMM_ROWS_PER_TASK = 32;

}  // namespace

int64_t csr_nnz(const CsrRows& x, int64_t B) {
    int64_t nnz = 0;
    for (int64_t i = 0; i < B; ++i) {
        const int64_t r = x.row(i);
        nnz += x.indptr[r + 1] - x.indptr[r];
    }
    return nnz;
}

void spmm(float* y, const CsrRows& x, int64_t B, const float* w, int64_t U, const float* bias) {
    static const SpmmLoops& loops = chosen();
    if (csr_nnz(x, B) * U < SPMM_PARALLEL_MIN) {
        loops.rows(y, x, 0, B, w, U, bias);
        return;
    }
    parallel_for((B + SPMM_ROWS_PER_TASK - 1) / SPMM_ROWS_PER_TASK, [&](int64_t t) {
        const int64_t i0 = t * SPMM_ROWS_PER_TASK;
        loops.rows(y, x, i0, i0 + SPMM_ROWS_PER_TASK < B ? i0 + SPMM_ROWS_PER_TASK : B, w, U, bias);
    });
}

void spmm_t(float* dw, const CsrRows& x, int64_t B, const float* dz, int64_t D, int64_t U,
            bool accumulate) {
    static const SpmmLoops& loops = chosen();
    if (!accumulate) std::memset(dw, 0, static_cast<size_t>(D * U) * sizeof(float));
    // The rows of dw that a batch touches are scattered, and several rows of X may touch one, so
    // tasks split the columns: each owns SPMM_COLS columns (a whole cache line of each row of dw:
    // no two tasks write one line when U is a multiple of 16) and visits the non-zeros in row
    // order, as one thread would.
    const int64_t tasks = (U + SPMM_COLS - 1) / SPMM_COLS;
    auto task = [&](int64_t t) {
        const int64_t c0 = t * SPMM_COLS;
        loops.t_columns(dw, x, B, dz, U, c0, U - c0 < SPMM_COLS ? U - c0 : SPMM_COLS);
    };
    if (tasks == 1 || csr_nnz(x, B) * U < SPMM_PARALLEL_MIN) {
        for (int64_t t = 0; t < tasks; ++t) task(t);
        return;
    }
    parallel_for(tasks, task);
}

}  // namespace fastnn
