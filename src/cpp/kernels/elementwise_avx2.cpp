// The element-wise inner loops compiled for AVX2+FMA (chosen at run time by elementwise.cpp),
// with exp, sigmoid and log vectorised by hand (the C library's are one element at a time).
#include "elementwise.h"

#include <immintrin.h>
#include <math.h>

namespace fastnn {

#include "elementwise_loops.inc"

namespace {

// e^x for x in [-87, 88] (no overflow, no denormal results): x = n ln2 + r with |r| <= ln2 / 2
// (Cody-Waite: ln2 split in two so n ln2 is exact), e^r = 1 + r + r^2 P(r) with Cephes' expf
// minimax polynomial, then 2^n added into the exponent bits. Within 1-2 ulp of expf.
inline __m256 exp_in_range(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
    const __m256i scale = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(er), scale));
}

// Eight elements at a time at any stride, the tail padded to a full vector: every element goes
// through the vector code, and lanes outside [lo, hi] (extremes, NaN) through the scalar function,
// which matches the C library's special values. So each result depends on its input value only,
// never on the layout, the length or its neighbours (converting first gives identical results).
template <class Vec, class Scalar>
void map_lanes(float* out, const float* x, int64_t sx, int64_t n, float lo, float hi, Vec vec,
               Scalar scalar) {
    alignas(32) float in[8], res[8];
    for (int64_t i = 0; i < n; i += 8) {
        const int m = n - i < 8 ? static_cast<int>(n - i) : 8;
        __m256 v;
        if (sx == 1 && m == 8) {
            v = _mm256_loadu_ps(x + i);
        } else {
            for (int j = 0; j < 8; ++j) in[j] = j < m ? x[(i + j) * sx] : lo;
            v = _mm256_load_ps(in);
        }
        const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(lo), _CMP_GE_OQ),
                                        _mm256_cmp_ps(v, _mm256_set1_ps(hi), _CMP_LE_OQ));
        const int okbits = _mm256_movemask_ps(ok);
        if (okbits == 0xFF && m == 8) {
            _mm256_storeu_ps(out + i, vec(v));
            continue;
        }
        _mm256_store_ps(res, vec(_mm256_blendv_ps(_mm256_set1_ps(lo), v, ok)));
        for (int j = 0; j < m; ++j)
            out[i + j] = (okbits >> j) & 1 ? res[j] : scalar(x[(i + j) * sx]);
    }
}

void exp_loop(float* out, const float* x, int64_t sx, int64_t n) {
    map_lanes(out, x, sx, n, -87.0f, 88.0f, exp_in_range, OpExp::f);
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, i.e. with e = e^-|x|:
// s = 1 / (1 + e), and e * s for negative x. |x| <= 87 keeps e normal; beyond, the scalar path.
void sigmoid_loop(float* out, const float* x, int64_t sx, int64_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    map_lanes(out, x, sx, n, -87.0f, 87.0f, [&](__m256 v) {
        const __m256 e = exp_in_range(_mm256_or_ps(v, sign_mask));  // e^-|x|
        const __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(s, _mm256_mul_ps(e, s), negative);
    }, OpSigmoid::f);
}

// log(x) for normal positive x: x = m 2^e with m folded into [sqrt(1/2), sqrt(2)), so
// log x = e ln2 + log(1 + f), f = m - 1; log(1 + f) = f - f^2/2 + f^3 P(f) with Cephes' logf
// polynomial, and e ln2 added in two parts (Cody-Waite) to keep it exact. Within 1-2 ulp of logf.
inline __m256 log_in_range(__m256 x) {
    const __m256i bits = _mm256_castps_si256(x);
    __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));  // [1, 2)
    const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356237f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
    const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    const __m256 z = _mm256_mul_ps(f, f);
    __m256 p = _mm256_set1_ps(7.0376836292e-2f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.1514610310e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.1676998740e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.2420140846e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.4249322787e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.6668057665e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.0000714765e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-2.4999993993e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(3.3333331174e-1f));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(f, z), p);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(f, y));
}

void log_loop(float* out, const float* x, int64_t sx, int64_t n) {
    // Normal positive floats only; zero, negatives, denormals, inf and NaN take the scalar path.
    map_lanes(out, x, sx, n, 1.17549435e-38f, 3.40282347e38f, log_in_range, OpLog::f);
}

constexpr ElementwiseLoops make_avx2_loops() {
    ElementwiseLoops loops = loops_of_this_unit;
    loops.unary[static_cast<int>(UnaryOp::exp)] = exp_loop;
    loops.unary[static_cast<int>(UnaryOp::sigmoid)] = sigmoid_loop;
    loops.unary[static_cast<int>(UnaryOp::log)] = log_loop;
    return loops;
}

// Evaluated at compile time: built at load time instead, the copy would be AVX2 code (this file's
// flags) run when the module is imported, on any CPU, and crash one without AVX2.
constexpr ElementwiseLoops avx2_loops = make_avx2_loops();

}  // namespace

const ElementwiseLoops& elementwise_loops_avx2() { return avx2_loops; }

}  // namespace fastnn
