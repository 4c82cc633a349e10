// Cache sizes from CPUID on x86 (leaf 4 on Intel, 0x8000001D on AMD: the same layout), from
// Linux's sysfs elsewhere, else a typical desktop core's.
#include "cache.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#define FASTNN_CACHE_CPUID 1
#endif

namespace fastnn {

namespace {

#ifdef FASTNN_CACHE_CPUID
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
    int out[4];
    __cpuidex(out, static_cast<int>(leaf), static_cast<int>(sub));
    for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(out[i]);
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

// Walks the cache descriptors of `leaf` (type in EAX[4:0], level in EAX[7:5]; ways, partitions,
// line size and sets in EBX and ECX, each stored minus one).
bool from_cpuid(CacheSizes& out) {
    unsigned r[4];
    cpuid(0, 0, r);
    char vendor[13] = {};
    std::memcpy(vendor, &r[1], 4);
    std::memcpy(vendor + 4, &r[3], 4);
    std::memcpy(vendor + 8, &r[2], 4);
    unsigned leaf = 4;
    if (std::strcmp(vendor, "AuthenticAMD") == 0 || std::strcmp(vendor, "HygonGenuine") == 0) {
        cpuid(0x80000000u, 0, r);
        if (r[0] < 0x8000001Du) return false;
        leaf = 0x8000001Du;
    } else if (r[0] < 4) {
        return false;
    }
    bool found = false;
    for (unsigned sub = 0; sub < 16; ++sub) {
        cpuid(leaf, sub, r);
        const unsigned type = r[0] & 0x1f, level = (r[0] >> 5) & 0x7;
        if (type == 0) break;
        if (type == 2) continue;  // instructions
        const int64_t bytes = int64_t{((r[1] >> 22) & 0x3ff) + 1} * (((r[1] >> 12) & 0x3ff) + 1) *
                              ((r[1] & 0xfff) + 1) * (int64_t{r[2]} + 1);
        if (level == 1) out.l1d = bytes;
        if (level == 2) out.l2 = bytes;
        if (level == 3) out.l3 = bytes;
        found = found || level == 2;
    }
    return found;
}
#endif

// /sys/devices/system/cpu/cpu0/cache/indexN/{level,type,size}, size as "48K" or "2M".
bool from_sysfs(CacheSizes& out) {
    bool found = false;
    for (int i = 0; i < 16; ++i) {
        char path[96], type[32] = {}, size[32] = {};
        int level = 0;
        auto read = [&](const char* field, const char* fmt, void* dst) {
            std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/%s", i,
                          field);
            FILE* f = std::fopen(path, "r");
            if (!f) return false;
            const bool ok = std::fscanf(f, fmt, dst) == 1;
            std::fclose(f);
            return ok;
        };
        if (!read("level", "%d", &level) || !read("type", "%31s", type) ||
            !read("size", "%31s", size))
            break;
        if (std::strcmp(type, "Instruction") == 0) continue;
        char* unit = nullptr;
        int64_t bytes = std::strtoll(size, &unit, 10);
        if (unit && (*unit == 'K' || *unit == 'k')) bytes <<= 10;
        if (unit && *unit == 'M') bytes <<= 20;
        if (level == 1) out.l1d = bytes;
        if (level == 2) out.l2 = bytes;
        if (level == 3) out.l3 = bytes;
        found = found || level == 2;
    }
    return found;
}

CacheSizes detect() {
    CacheSizes c{32 << 10, 512 << 10, 8 << 20, "assumed"};
#ifdef FASTNN_CACHE_CPUID
    CacheSizes x{32 << 10, 512 << 10, 0, "cpuid"};
    if (from_cpuid(x)) return x;
#endif
    CacheSizes s{32 << 10, 512 << 10, 0, "sysfs"};
    if (from_sysfs(s)) return s;
    return c;
}

}  // namespace

const CacheSizes& cache_sizes() {
    static const CacheSizes c = detect();
    return c;
}

}  // namespace fastnn
