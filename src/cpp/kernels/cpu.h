// CPU feature detection: which kernel path (generic or AVX2+FMA) this process runs.
#pragma once

namespace fastnn {

// Ordered: a later level can run every kernel of an earlier one.
enum class Arch { generic = 0, avx2 = 1, avx512 = 2 };

// Chosen once, at the first call: the best level that the build has and the CPU supports, capped
// by FASTNN_ARCH (generic, avx2, avx512) so that every path can be tested on one machine.
Arch active_arch();
const char* arch_name(Arch arch);
bool cpu_supports_avx2_fma();
bool cpu_supports_avx512();

}  // namespace fastnn
