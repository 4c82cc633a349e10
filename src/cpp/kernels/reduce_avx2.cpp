// The reduction inner loops compiled for AVX2+FMA (chosen at run time by reduce.cpp).
#include "reduce.h"

namespace fastnn {

#include "reduce_loops.inc"

const ReduceLoops& reduce_loops_avx2() { return loops_of_this_unit; }

}  // namespace fastnn
