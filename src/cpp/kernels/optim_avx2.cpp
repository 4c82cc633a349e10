// The AVX2+FMA copy of the optimizer update loops (optim_loops.h); compiled with -mavx2 -mfma and
// chosen at run time by optim.cpp.
// Self-contained on purpose: the loops have internal linkage and nothing here is shared inline
// code, so no AVX2 instruction can leak into functions that run on CPUs without AVX2.
#include "optim_loops.h"

namespace fastnn {

const OptimLoops& optim_loops_avx2() {
    // Only function addresses: constant-initialised, no AVX2 code runs to build it.
    static constexpr OptimLoops loops = optim_loops_of_this_unit();
    return loops;
}

}  // namespace fastnn
