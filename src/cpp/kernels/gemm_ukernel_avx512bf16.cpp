// The bfloat16 GEMM micro-kernel with AVX512-BF16: 6 x 32 tiles, each VDPBF16PS doing 32
// multiply-adds (16 lanes, a pair each) where VFMADD231PS does 16. Compiled with -mavx512bf16
// and chosen at run time; self-contained (no inline function shared with baseline files, which
// the linker could merge with their baseline copies).
#include <immintrin.h>

#include <cstdint>

#include "gemm_kernels.h"

namespace fastnn {

namespace {

constexpr int64_t MR = 6, NR = 32;

inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh&>(v); }
inline __m512i as_si(__m512bh v) { return reinterpret_cast<__m512i&>(v); }

// 32 floats to bfloat16, lo's in elements 0-15 and hi's in 16-31. VCVTNE2PS2BF16 rounds as
// bf16.h's bf16_from_float does: checked on 64 million random bit patterns (NaNs, infinities and
// denormals included) on Zen 4.
inline __m512i to_bf16(__m512 lo, __m512 hi) { return as_si(_mm512_cvtne2ps_pbh(hi, lo)); }

}  // namespace

void sbgemm_avx512bf16_6x32(int64_t kq, const uint16_t* a, const uint16_t* b, float* c,
                            int64_t ldc, float alpha, float beta) {
    // 12 independent chains of VDPBF16PS cover its latency on two pipes, as in the float tile.
    __m512 acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int i = 0; i < MR; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    const int32_t* ap = reinterpret_cast<const int32_t*>(a);
    for (int64_t q = 0; q < kq; ++q, ap += MR, b += 2 * NR) {
        const __m512bh b0 = as_bh(_mm512_loadu_si512(b));
        const __m512bh b1 = as_bh(_mm512_loadu_si512(b + NR));
        for (int i = 0; i < MR; ++i) {
            const __m512bh x = as_bh(_mm512_set1_epi32(ap[i]));
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, b1);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha);
    for (int i = 0; i < MR; ++i) {
        float* ci = c + i * ldc;
        for (int h = 0; h < 2; ++h) {
            const __m512 v = _mm512_mul_ps(va, acc[i][h]);
            if (beta == 0.0f) _mm512_storeu_ps(ci + 16 * h, v);
            else _mm512_storeu_ps(ci + 16 * h,
                                  _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_loadu_ps(ci + 16 * h), v));
        }
    }
}

namespace {

inline __mmask16 first(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xffff)
         : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

// ldt == 1: the n columns t are contiguous in each row p. Pair q of a panel is rows 2q and
// 2q + 1 side by side: each column's even-row value, then its odd-row value.
void pack_rows(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t w, uint16_t* dst) {
    const int64_t kq = (k + 1) / 2;
    const __m512i interleave = _mm512_setr_epi32(
        0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005, 0x00160006,
        0x00170007, 0x00180008, 0x00190009, 0x001a000a, 0x001b000b, 0x001c000c, 0x001d000d,
        0x001e000e, 0x001f000f);  // 16-bit indices 0, 16, 1, 17, ...
    for (int64_t t0 = 0; t0 < n; t0 += w) {
        for (int64_t q = 0; q < kq; ++q) {
            const float* r0 = src + 2 * q * ldk + t0;
            const bool odd = 2 * q + 1 < k;
            uint16_t* d = dst + q * 2 * w;
            for (int64_t h = 0; h < w; h += 16) {
                const __mmask16 m = first(n - t0 - h);
                const __m512 lo = _mm512_maskz_loadu_ps(m, r0 + h);
                const __m512 hi = odd ? _mm512_maskz_loadu_ps(m, r0 + ldk + h) : _mm512_setzero_ps();
                const __m512i pairs = _mm512_permutexvar_epi16(interleave, to_bf16(lo, hi));
                const int64_t left = w - h;  // pairs of this panel row still to write
                const __mmask32 store = left >= 16 ? static_cast<__mmask32>(0xffffffffu)
                                                   : static_cast<__mmask32>((1u << (2 * left)) - 1u);
                _mm512_mask_storeu_epi16(d + 2 * h, store, pairs);
            }
        }
        dst += kq * 2 * w;
    }
}

// ldk == 1: each column t is contiguous along k, so its pairs are consecutive floats, which
// convert 16 pairs at a time in order; each pair then goes to its place in the panel, w apart.
void pack_columns(int64_t k, int64_t n, const float* src, int64_t ldt, int64_t w, uint16_t* dst) {
    const int64_t kq = (k + 1) / 2;
    for (int64_t t0 = 0; t0 < n; t0 += w) {
        int32_t* panel = reinterpret_cast<int32_t*>(dst);
        for (int64_t t = 0; t < w; ++t) {
            int32_t* d = panel + t;
            if (t0 + t >= n) {
                for (int64_t q = 0; q < kq; ++q) d[q * w] = 0;
                continue;
            }
            const float* s = src + (t0 + t) * ldt;
            for (int64_t q0 = 0; q0 < kq; q0 += 16) {
                const int64_t left = k - 2 * q0;  // floats of this column from pair q0 on
                alignas(64) int32_t pairs[16];
                _mm512_store_si512(pairs, to_bf16(_mm512_maskz_loadu_ps(first(left), s + 2 * q0),
                                                  _mm512_maskz_loadu_ps(first(left - 16),
                                                                        s + 2 * q0 + 16)));
                const int64_t nq = kq - q0 < 16 ? kq - q0 : 16;
                for (int64_t i = 0; i < nq; ++i) d[(q0 + i) * w] = pairs[i];
            }
        }
        dst += kq * 2 * w;
    }
}

}  // namespace

void sbgemm_pack_avx512bf16(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t ldt,
                            int64_t w, uint16_t* dst) {
    if (ldt == 1) pack_rows(k, n, src, ldk, w, dst);
    else if (ldk == 1) pack_columns(k, n, src, ldt, w, dst);
    else sbgemm_pack(k, n, src, ldk, ldt, w, dst);
}

}  // namespace fastnn
