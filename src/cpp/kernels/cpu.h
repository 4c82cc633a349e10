// CPU feature detection: which kernel path (generic, AVX2+FMA, AVX-512, AVX-512 with BF16) this
// process runs.
#pragma once

namespace fastnn {

// Ordered: a later level can run every kernel of an earlier one. avx512_bf16 runs the float32
// kernels of avx512 and adds the bfloat16 GEMM (VDPBF16PS).
enum class Arch { generic = 0, avx2 = 1, avx512 = 2, avx512_bf16 = 3 };

// Chosen once, at the first call: the best level that the build has and the CPU supports, capped
// by FASTNN_ARCH (generic, avx2, avx512, avx512_bf16) so that every path can be tested on one
// machine.
Arch active_arch();
const char* arch_name(Arch arch);
bool cpu_supports_avx2_fma();
bool cpu_supports_avx512();
bool cpu_supports_avx512_bf16();

}  // namespace fastnn
