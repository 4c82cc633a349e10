// The machine's measured peak: float32 FMA throughput on every thread of the pool, the
// denominator of "share of peak" in the benchmarks.
#pragma once

#include <cstdint>

namespace fastnn {

// flop/s of independent FMA chains run for about `seconds` on the pool's threads, with the
// widest vectors the CPU has (whatever FASTNN_ARCH caps the kernels to).
double measure_peak_flops(double seconds);

// One thread: `iters` rounds of 12 independent vector FMA chains; returns the flops done.
// *sink receives a value derived from the chains so the loop is not optimised away.
int64_t peak_fma_generic(int64_t iters, float* sink);
#ifdef FASTNN_HAVE_AVX2
int64_t peak_fma_avx2(int64_t iters, float* sink);
#endif
#ifdef FASTNN_HAVE_AVX512
int64_t peak_fma_avx512(int64_t iters, float* sink);
#endif

}  // namespace fastnn
