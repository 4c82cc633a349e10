// CPU feature detection and the once-per-process choice of kernel path.
#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace fastnn {

bool cpu_supports_avx2_fma() {
#if defined(FASTNN_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool cpu_supports_avx512() {
#if defined(FASTNN_HAVE_AVX512) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return cpu_supports_avx2_fma() && __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

static Arch choose_arch() {
    Arch best = cpu_supports_avx512() ? Arch::avx512
              : cpu_supports_avx2_fma() ? Arch::avx2 : Arch::generic;
    const char* env = std::getenv("FASTNN_ARCH");
    Arch cap = Arch::avx512;
    if (env && std::strcmp(env, "generic") == 0) cap = Arch::generic;
    if (env && std::strcmp(env, "avx2") == 0) cap = Arch::avx2;
    return best < cap ? best : cap;
}

Arch active_arch() {
    static const Arch arch = choose_arch();
    return arch;
}

const char* arch_name(Arch arch) {
    switch (arch) {
        case Arch::avx512: return "avx512";
        case Arch::avx2: return "avx2";
        default: return "generic";
    }
}

}  // namespace fastnn
