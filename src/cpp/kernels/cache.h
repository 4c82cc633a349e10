// The data caches of the CPU this process runs on: what the GEMM's block sizes are chosen from.
#pragma once

#include <cstdint>

namespace fastnn {

// Bytes of one core's L1 data cache and L2, and of the L3 (shared by several cores; 0 when there
// is none), and where the figures came from: "cpuid", "sysfs" or "assumed" (neither told).
struct CacheSizes {
    int64_t l1d, l2, l3;
    const char* source;
};

// Read once, at the first call.
const CacheSizes& cache_sizes();

}  // namespace fastnn
