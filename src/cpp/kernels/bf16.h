// bfloat16 as the mixed-precision GEMMs compute it: the semantics of AVX512-BF16's conversion
// (VCVTNE2PS2BF16) and dot product (VDPBF16PS), written in plain C++ so that the portable path
// gives the same bits on any CPU (checked against the instructions on Zen 4, 3.2 million random
// lanes, denormals included: tests/test_bf16.py runs both paths).
//   - float -> bfloat16: round to nearest even; a denormal becomes a zero of its sign (DAZ); a NaN
//     stays a NaN (quieted); overflow rounds to infinity.
//   - products of bfloat16 pairs accumulate in float32, the odd element of each pair first, each
//     step rounded once (a fused multiply-add) and a denormal result flushed to zero (FTZ).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fastnn {

inline uint32_t float_bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

inline float bits_float(uint32_t u) {
    float x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

inline uint16_t bf16_from_float(float x) {
    uint32_t u = float_bits(x);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)
        return static_cast<uint16_t>((u >> 16) | 0x0040u);       // NaN, quieted
    if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);  // DAZ
    u += 0x7fffu + ((u >> 16) & 1u);                             // round to nearest even
    return static_cast<uint16_t>(u >> 16);
}

inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// acc + a * b rounded once, then flushed to zero if denormal: one half of VDPBF16PS's step. a and
// b are bfloat16 values (never denormal: the conversion flushed them), so their product is exact
// in float32 unless it leaves float32's normal range; only then is std::fma needed.
inline float bf16_fma_ftz(float a, float b, float acc) {
    const float p = a * b;
    const float ap = std::fabs(p);
    float t;
    if ((ap >= 1.17549435e-38f && ap <= 3.40282347e+38f) || a == 0.0f || b == 0.0f)
        t = acc + p;
    else
        t = std::fma(a, b, acc);
    return (float_bits(t) & 0x7f800000u) == 0 ? bits_float(float_bits(t) & 0x80000000u) : t;
}

}  // namespace fastnn
