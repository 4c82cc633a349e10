// Products of a sparse matrix (compressed sparse rows) with dense ones: what a dense layer does
// with a multi-hot input, where most of a GEMM would multiply zeros.
// Letters: B rows of the sparse matrix X (a batch), D its columns, U the dense side's columns.
// X's row i is row r = rows[i] (or row0 + i when rows is null) of a CSR matrix: its non-zeros
// are data[k] at column indices[k], for k in [indptr[r], indptr[r + 1]).
#pragma once

#include <cstdint>
#include <vector>

namespace fastnn {

struct CsrRows {
    const int64_t* indptr = nullptr;
    const int32_t* indices = nullptr;
    const float* data = nullptr;
    const int64_t* rows = nullptr;
    int64_t row0 = 0;

    int64_t row(int64_t i) const { return rows ? rows[i] : row0 + i; }
};

// y = X w (+ bias): y is B x U (contiguous), w is D x U row-major, bias U or null.
// Each row's sum runs over its non-zeros in order: the result does not depend on the thread
// count. Column indices must lie in [0, D) (the bindings check).
void spmm(float* y, const CsrRows& x, int64_t B, const float* w, int64_t U, const float* bias);

// dw = X^T dz (accumulate: dw += X^T dz): dw is D x U, dz is B x U, both contiguous. Every
// element of dw sums its contributions in row order, whatever the thread count.
void spmm_t(float* dw, const CsrRows& x, int64_t B, const float* dz, int64_t D, int64_t U,
            bool accumulate);

// The number of non-zeros in X's B rows.
int64_t csr_nnz(const CsrRows& x, int64_t B);

// Rows of a dense matrix made sparse: the buffers, kept and reused from one batch to the next.
struct CompactRows {
    std::vector<int64_t> indptr;
    std::vector<int32_t> indices;
    std::vector<float> data;
    std::vector<int64_t> counts;  // per task
};

// Rows rows[0..B) of the dense x (row stride ld, D columns) as CSR in c, when at most
// max_density of every block of COMPACT_ROWS rows is non-zero (any value other than +0.0 counts,
// so NaN, infinities and -0.0 are kept as they are); false otherwise, with c's contents
// meaningless. The result depends on the data only, never on the thread count.
bool compact_rows(CompactRows& c, const float* x, int64_t ld, const int64_t* rows, int64_t B,
                  int64_t D, double max_density, CsrRows* out);
constexpr int64_t COMPACT_ROWS = 16;

// Columns the inner loops hold in registers at once: one AVX-512 register, two AVX ones.
constexpr int64_t SPMM_COLS = 16;

// The inner loops, compiled per target (spmm_loops.inc): rows [i0, i1) of y = X w + bias, and
// columns [c0, c0 + n) (n <= SPMM_COLS) of rows [d0, d1) of dw += X^T dz.
struct SpmmLoops {
    void (*rows)(float* y, const CsrRows& x, int64_t i0, int64_t i1, const float* w, int64_t U,
                 const float* bias);
    void (*t_columns)(float* dw, const CsrRows& x, int64_t B, const float* dz, int64_t U,
                      int64_t c0, int64_t n, int64_t d0, int64_t d1);
};
const SpmmLoops& spmm_loops_generic();
#ifdef FASTNN_HAVE_AVX2
const SpmmLoops& spmm_loops_avx2();
#endif
#ifdef FASTNN_HAVE_AVX512
const SpmmLoops& spmm_loops_avx512();
#endif

}  // namespace fastnn
