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

static Arch choose_arch() {
    const char* env = std::getenv("FASTNN_ARCH");
    if (env && std::strcmp(env, "generic") == 0) return Arch::generic;
    return cpu_supports_avx2_fma() ? Arch::avx2 : Arch::generic;
}

Arch active_arch() {
    static const Arch arch = choose_arch();
    return arch;
}

const char* arch_name(Arch arch) {
    return arch == Arch::avx2 ? "avx2" : "generic";
}

}  // namespace fastnn
