// The AVX-512 peak loop (see peak_loop.inc).
#include <immintrin.h>

#include "peak.h"

namespace fastnn {

#define VEC __m512
#define VW 16
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSTORE(p, v) _mm512_store_ps((p), (v))
#define PEAK_NAME peak_fma_avx512
#include "peak_loop.inc"

}  // namespace fastnn
