// The element-wise inner loops compiled for AVX2+FMA (chosen at run time by elementwise.cpp).
#include "elementwise.h"

#include <math.h>

namespace fastnn {

#include "elementwise_loops.inc"

const ElementwiseLoops& elementwise_loops_avx2() { return loops_of_this_unit; }

}  // namespace fastnn
