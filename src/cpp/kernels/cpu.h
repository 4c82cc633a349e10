// CPU feature detection: which kernel path (generic or AVX2+FMA) this process runs.
#pragma once

namespace fastnn {

enum class Arch { generic, avx2 };

// Chosen once, at the first call: FASTNN_ARCH=generic forces the portable path; otherwise AVX2+FMA
// when the build has it and the CPU supports it.
Arch active_arch();
const char* arch_name(Arch arch);
bool cpu_supports_avx2_fma();

}  // namespace fastnn
