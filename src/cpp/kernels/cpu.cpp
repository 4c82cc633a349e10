// CPU feature detection and the once-per-process choice of kernel path.
#include "cpu.h"

#include <cstdlib>
#include <cstring>

// How the SIMD levels are detected: gcc / clang's __builtin_cpu_supports, except where it is
// missing (MSVC) or does not link (Apple's toolchain lacks the __cpu_model it refers to).
#if defined(FASTNN_HAVE_AVX2) && defined(_MSC_VER)
#define FASTNN_DETECT_CPUID 1
#include <intrin.h>
#elif defined(FASTNN_HAVE_AVX2) && defined(__APPLE__)
#define FASTNN_DETECT_SYSCTL 1
#include <sys/sysctl.h>
#endif

namespace fastnn {

#if defined(FASTNN_DETECT_CPUID) || defined(FASTNN_DETECT_SYSCTL)
namespace {

struct CpuFeatures {
    bool avx2_fma = false;
    bool avx512f = false;
    bool avx512_bf16 = false;
};

#if defined(FASTNN_DETECT_CPUID)
// CPUID for the instructions, and XGETBV for whether the OS saves the vector registers on a
// context switch (without that, using them would corrupt other threads' state).
CpuFeatures detect_features() {
    CpuFeatures f;
    int r[4];  // eax, ebx, ecx, edx
    __cpuidex(r, 0, 0);
    if (r[0] < 7) return f;  // no leaf 7, so no AVX2
    __cpuidex(r, 1, 0);
    const bool fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!osxsave || !avx) return f;  // XGETBV itself needs OSXSAVE
    const unsigned long long xcr0 = _xgetbv(0);
    const bool os_ymm = (xcr0 & 0x6) == 0x6;    // XMM and YMM state
    const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // and opmask, ZMM0-15 upper halves, ZMM16-31
    __cpuidex(r, 7, 0);
    const bool avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1;
    f.avx2_fma = os_ymm && avx2 && fma;
    f.avx512f = f.avx2_fma && os_zmm && avx512f;
    __cpuidex(r, 7, 1);
    f.avx512_bf16 = f.avx512f && ((r[0] >> 5) & 1);
    return f;
}
#else
// macOS enables AVX-512 state on first use, so XGETBV would deny it: ask the kernel instead.
bool sysctl_flag(const char* name) {
    int value = 0;
    size_t size = sizeof(value);
    return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
}

CpuFeatures detect_features() {
    CpuFeatures f;
    f.avx2_fma = sysctl_flag("hw.optional.avx2_0") && sysctl_flag("hw.optional.fma");
    f.avx512f = f.avx2_fma && sysctl_flag("hw.optional.avx512f");
    return f;  // no Mac has had AVX512-BF16
}
#endif

const CpuFeatures& features() {
    static const CpuFeatures f = detect_features();
    return f;
}

}  // namespace
#endif

bool cpu_supports_avx2_fma() {
#if defined(FASTNN_DETECT_CPUID) || defined(FASTNN_DETECT_SYSCTL)
    return features().avx2_fma;
#elif defined(FASTNN_HAVE_AVX2) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool cpu_supports_avx512() {
#if defined(FASTNN_HAVE_AVX512) && (defined(FASTNN_DETECT_CPUID) || defined(FASTNN_DETECT_SYSCTL))
    return features().avx512f;
#elif defined(FASTNN_HAVE_AVX512) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return cpu_supports_avx2_fma() && __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

bool cpu_supports_avx512_bf16() {
#if defined(FASTNN_HAVE_AVX512_BF16) && defined(FASTNN_DETECT_CPUID)
    return features().avx512_bf16;
#elif defined(FASTNN_HAVE_AVX512_BF16) && !defined(FASTNN_DETECT_SYSCTL) && \
    (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return cpu_supports_avx512() && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

static Arch choose_arch() {
    Arch best = cpu_supports_avx512_bf16() ? Arch::avx512_bf16
              : cpu_supports_avx512() ? Arch::avx512
              : cpu_supports_avx2_fma() ? Arch::avx2 : Arch::generic;
    const char* env = std::getenv("FASTNN_ARCH");
    Arch cap = Arch::avx512_bf16;
    if (env && std::strcmp(env, "generic") == 0) cap = Arch::generic;
    if (env && std::strcmp(env, "avx2") == 0) cap = Arch::avx2;
    if (env && std::strcmp(env, "avx512") == 0) cap = Arch::avx512;
    return best < cap ? best : cap;
}

Arch active_arch() {
    static const Arch arch = choose_arch();
    return arch;
}

const char* arch_name(Arch arch) {
    switch (arch) {
        case Arch::avx512_bf16: return "avx512_bf16";
        case Arch::avx512: return "avx512";
        case Arch::avx2: return "avx2";
        default: return "generic";
    }
}

}  // namespace fastnn
