// The AVX-512 GEMM micro-kernel: 6 x 32 tiles (two zmm per row). Compiled with -mavx512f and
// chosen at run time on CPUs that have it; self-contained like the AVX2 file. Same FLOPs per cycle
// as AVX2 on CPUs that split 512-bit operations, but half the instructions per FLOP.
#include <immintrin.h>
#include <math.h>

#include <cstdint>

#include "gemm_kernels.h"

namespace fastnn {

#define VEC __m512
#define VW 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_load_ps(p)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps((p), (v))
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VSET1(x) _mm512_set1_ps(x)
#define UKERNEL_NAME sgemm_avx512_6x32
#include "gemm_ukernel_6xn.inc"
#define SMALL_M_NAME sgemm_small_m_avx512
#include "gemm_small_m.inc"
#undef SMALL_M_NAME

}  // namespace fastnn
