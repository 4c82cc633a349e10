// The sparse x dense inner loops compiled for AVX-512F (chosen at run time by spmm.cpp).
#include "spmm.h"

#include <immintrin.h>

namespace fastnn {

#include "spmm_loops.inc"

const SpmmLoops& spmm_loops_avx512() { return loops_of_this_unit; }

}  // namespace fastnn
