// The AVX2 + FMA peak loop (see peak_loop.inc).
#include <immintrin.h>

#include "peak.h"

namespace fastnn {

#define VEC __m256
#define VW 8
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSTORE(p, v) _mm256_store_ps((p), (v))
#define PEAK_NAME peak_fma_avx2
#include "peak_loop.inc"

}  // namespace fastnn
