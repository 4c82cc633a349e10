// Sparse x dense products: the split into tasks, and the choice of inner loops for the CPU.
#include "spmm.h"

#include <atomic>
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

namespace {

// Appends the non-zeros of row x[0..D) at idx / val, at most `room` of them; returns how many,
// or -1 when there were more. Eight values at a time are tested as four 64-bit words first:
// multi-hot text is nearly all zeros.
int64_t compact_row(const float* x, int64_t D, int32_t* idx, float* val, int64_t room) {
    int64_t n = 0;
    int64_t k = 0;
    auto take = [&](int64_t j) {
        uint32_t bits;
        std::memcpy(&bits, x + j, sizeof(bits));
        if (bits == 0) return true;
        if (n == room) return false;
        idx[n] = static_cast<int32_t>(j);
        val[n++] = x[j];
        return true;
    };
    for (; k + 8 <= D; k += 8) {
        uint64_t w[4];
        std::memcpy(w, x + k, sizeof(w));
        if ((w[0] | w[1] | w[2] | w[3]) == 0) continue;
        for (int64_t j = k; j < k + 8; ++j)
            if (!take(j)) return -1;
    }
    for (; k < D; ++k)
        if (!take(k)) return -1;
    return n;
}

}  // namespace

bool compact_rows(CompactRows& c, const float* x, int64_t ld, const int64_t* rows, int64_t B,
                  int64_t D, double max_density, CsrRows* out) {
    const int64_t tasks = (B + COMPACT_ROWS - 1) / COMPACT_ROWS;
    const int64_t room = static_cast<int64_t>(max_density * static_cast<double>(COMPACT_ROWS * D));
    const size_t cap = static_cast<size_t>(tasks * room);
    if (c.indices.size() < cap) {
        c.indices.resize(cap);
        c.data.resize(cap);
    }
    c.indptr.resize(static_cast<size_t>(B + 1));
    c.counts.resize(static_cast<size_t>(tasks));
    std::atomic<bool> too_dense{false};
    // Each task fills its own segment of `room` entries, row offsets relative to it.
    auto task = [&](int64_t t) {
        int32_t* idx = c.indices.data() + t * room;
        float* val = c.data.data() + t * room;
        int64_t used = 0;
        const int64_t i1 = (t + 1) * COMPACT_ROWS < B ? (t + 1) * COMPACT_ROWS : B;
        for (int64_t i = t * COMPACT_ROWS; i < i1; ++i) {
            if (too_dense.load(std::memory_order_relaxed)) return;
            c.indptr[static_cast<size_t>(i)] = used;
            const int64_t n = compact_row(x + rows[i] * ld, D, idx + used, val + used, room - used);
            if (n < 0) {
                too_dense.store(true, std::memory_order_relaxed);
                return;
            }
            used += n;
        }
        c.counts[static_cast<size_t>(t)] = used;
    };
    // About as much reading as gathering the rows: the pool's usual threshold for that.
    if (B * D < (int64_t{1} << 16)) {
        for (int64_t t = 0; t < tasks; ++t) task(t);
    } else {
        parallel_for(tasks, task);
    }
    if (too_dense.load()) return false;
    // Close the gaps between the segments (a few hundred kilobytes for a batch of reviews).
    int64_t total = 0;
    for (int64_t t = 0; t < tasks; ++t) {
        const int64_t n = c.counts[static_cast<size_t>(t)];
        if (total != t * room) {
            std::memmove(c.indices.data() + total, c.indices.data() + t * room, static_cast<size_t>(n) * sizeof(int32_t));
            std::memmove(c.data.data() + total, c.data.data() + t * room, static_cast<size_t>(n) * sizeof(float));
        }
        const int64_t i1 = (t + 1) * COMPACT_ROWS < B ? (t + 1) * COMPACT_ROWS : B;
        for (int64_t i = t * COMPACT_ROWS; i < i1; ++i) c.indptr[static_cast<size_t>(i)] += total;
        total += n;
    }
    c.indptr[static_cast<size_t>(B)] = total;
    out->indptr = c.indptr.data();
    out->indices = c.indices.data();
    out->data = c.data.data();
    out->rows = nullptr;
    out->row0 = 0;
    return true;
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

namespace {

// Bounds that split [0, D) into `parts` ranges holding about equal numbers of the batch's
// non-zeros, estimated from every 8th row's in a histogram of 1024 buckets (word frequencies are
// far from uniform: an even split of D would give one task most of the work).
void balanced_split(int64_t* bounds, const CsrRows& x, int64_t B, int64_t D, int parts) {
    constexpr int64_t BUCKETS = 1024;
    const int64_t stride = B >= 64 ? 8 : 1;
    int64_t hist[BUCKETS] = {};
    int64_t total = 0;
    // bucket = index * BUCKETS / D as a multiply and a shift: a division per index costs more
    // than the sampling saves (D < 2**31, so the product fits in 64 bits).
    const uint64_t scale = ((static_cast<uint64_t>(BUCKETS) << 32) + static_cast<uint64_t>(D) - 1) /
                           static_cast<uint64_t>(D);
    for (int64_t i = 0; i < B; i += stride) {
        const int64_t r = x.row(i);
        for (int64_t k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
            const uint64_t bucket = (static_cast<uint64_t>(x.indices[k]) * scale) >> 32;
            ++hist[bucket < BUCKETS ? bucket : BUCKETS - 1];
        }
        total += x.indptr[r + 1] - x.indptr[r];
    }
    for (int p = 0; p <= parts; ++p) bounds[p] = D;
    bounds[0] = 0;
    int64_t cum = 0;
    int p = 1;
    for (int64_t b = 0; b < BUCKETS && p < parts; ++b) {
        cum += hist[b];
        while (p < parts && cum * parts >= total * p) bounds[p++] = (b + 1) * D / BUCKETS;
    }
}

}  // namespace

void spmm_t(float* dw, const CsrRows& x, int64_t B, const float* dz, int64_t D, int64_t U,
            bool accumulate) {
    static const SpmmLoops& loops = chosen();
    // The rows of dw that a batch touches are scattered, and several rows of X may touch one.
    // Tasks split the work by columns of dw (each owns SPMM_COLS of them: a whole cache line of
    // each row when U is a multiple of 16) and, when that gives fewer tasks than threads, by
    // ranges of its rows too. Every task visits the non-zeros in row order, so each element of
    // dw adds its terms in the order one thread would: the split never changes a bit.
    const int64_t col_tasks = (U + SPMM_COLS - 1) / SPMM_COLS;
    const bool parallel = csr_nnz(x, B) * U >= SPMM_PARALLEL_MIN;
    const int threads = parallel ? get_num_threads() : 1;
    constexpr int MAX_PARTS = 64;
    int parts = col_tasks >= threads ? 1 : static_cast<int>((threads + col_tasks - 1) / col_tasks);
    parts = parts < MAX_PARTS ? parts : MAX_PARTS;
    int64_t bounds[MAX_PARTS + 1] = {0, D};
    if (parts > 1) balanced_split(bounds, x, B, D, parts);
    auto task = [&](int64_t t) {
        const int64_t c0 = (t % col_tasks) * SPMM_COLS;
        const int64_t d0 = bounds[t / col_tasks];
        const int64_t d1 = bounds[t / col_tasks + 1];
        const int64_t n = U - c0 < SPMM_COLS ? U - c0 : SPMM_COLS;
        if (!accumulate) {  // the task's own part of dw only: others may be adding to the rest
            if (n == U) std::memset(dw + d0 * U, 0, static_cast<size_t>((d1 - d0) * U) * sizeof(float));
            else
                for (int64_t d = d0; d < d1; ++d) std::memset(dw + d * U + c0, 0, static_cast<size_t>(n) * sizeof(float));
        }
        loops.t_columns(dw, x, B, dz, U, c0, n, d0, d1);
    };
    const int64_t tasks = col_tasks * parts;
    if (!parallel || tasks == 1) {
        for (int64_t t = 0; t < tasks; ++t) task(t);
        return;
    }
    parallel_for(tasks, task);
}

}  // namespace fastnn
