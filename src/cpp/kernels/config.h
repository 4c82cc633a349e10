// Every block size and threshold of the kernels, in one table.
#pragma once

#include <cstdint>

namespace fastnn {

// GEMM register tile: MR rows of C by NR columns (6x16 = 12 ymm accumulators on AVX2, as BLIS
// configures Haswell/Zen; 6x32 = 12 zmm on AVX-512). The portable micro-kernel uses 6x16 too.
constexpr int64_t GEMM_MR = 6;
constexpr int64_t GEMM_NR = 16;
constexpr int64_t GEMM_NR_AVX512 = 32;
constexpr int64_t GEMM_NR_MAX = 32;
// Cache blocks: a KC x NR panel of B is 16 KiB with AVX2 (half of L1, as BLIS zen3), an MC x KC
// block of A stays in L2, a KC x NC block of B lives in L3. For the 32-wide AVX-512 tile a longer
// panel (<= 48 KiB, streamed from L2) measured faster than one that fits L1: C is updated half as
// often (Zen 4, 1 MiB L2).
// MC is a quarter of L2 in rows of KC floats (gemm.cpp), within these bounds: Zen 4 (1 MiB L2,
// KC 384) gets 168, Zen 3 (512 KiB, KC 256) 126, a 2 MiB-L2 Xeon 336. On Zen 4, MC = 144 and 336
// measured within 3 % of each other on 512^3 to 2048^3: the K block matters more than MC there.
constexpr int64_t GEMM_MC_MIN = 48;
constexpr int64_t GEMM_MC_MAX = 480;
constexpr int64_t GEMM_KC = 256;
constexpr int64_t GEMM_KC_AVX512 = 384;
constexpr int64_t GEMM_KC_MAX = 384;
constexpr int64_t GEMM_NC = 4064;  // a multiple of both tile widths
// The bfloat16 GEMM's K block, on every path (the sum of each block is one chain of VDPBF16PS
// steps, so the portable path must cut K at the same places to give the same bits): a 32-wide
// micro-panel of B is then 32 KiB, as the float32 AVX2 panel of 256 x 16.
constexpr int64_t GEMM_KC_BF16 = 512;
// With AVX2, GEMMs this narrow (and with K at least GEMM_SMALL_N_MIN_K) use the small-N kernel.
constexpr int64_t GEMM_SMALL_N_MAX = 12;
constexpr int64_t GEMM_SMALL_N_MIN_K = 32;
// GEMMs with at most this many rows read B in place (the small-M kernel, gemm_small_m.inc):
// packing B costs more than the product when each element of B is used this few times. Measured
// on (m x 784).(784 x 512), Zen 4, against the packed path: AVX-512 (4-row tiles) is faster up to
// 16 rows (66 against 102 us at 16); AVX2 (2-row tiles, 16 registers) up to 8 (85 against 107 us;
// at 16 it takes 170 against 134); the portable kernel at every size up to 16 (its packed
// micro-kernel is plain C++).
constexpr int64_t GEMM_SMALL_M_MAX = 16;
constexpr int64_t GEMM_SMALL_M_MAX_AVX2 = 8;
// With AVX-512 the small-M kernel stays faster up to 64 rows while each thread's columns of B
// fit in its L2 (they are then read from L2 once per 4 rows): on (m x 784).(784 x 512), Zen 4,
// 2 threads (784 KiB of B each, 1 MiB L2), 122 against 162 us at 32 rows, 245 against 278 at 64,
// equal at 96.
constexpr int64_t GEMM_SMALL_M_MAX_L2 = 64;
// The small-M kernel splits the columns over the pool when B is at least this many bytes (reading
// B is its cost, and one core reads a large B slower than two).
constexpr int64_t GEMM_SMALL_M_PARALLEL_BYTES = 256 * 1024;
// Column slabs per thread of a GEMM that reads A in place (no packing is repeated per slab).
constexpr int64_t GEMM_SLABS_PER_THREAD = 4;
// Below this many flops (2*M*N*K) a GEMM runs on one thread: a fork/join costs a few microseconds.
constexpr double GEMM_PARALLEL_MIN_FLOPS = 1.0e6;

// A batch of a dense input at least this wide, of which at most this share is non-zero (in every
// block of COMPACT_ROWS rows), runs through its first layer as sparse rows. Measured on
// 10000-wide 0/1 inputs, batch 512, Zen 4, from CSR against dense: 19x faster at 1 % non-zero,
// 2x at 10 % (16 and 64 units); dense wins beyond about 20 % with 64 units.
constexpr int64_t DENSE_AS_SPARSE_MIN_WIDTH = 1024;
constexpr double DENSE_AS_SPARSE_MAX_DENSITY = 0.10;

// A dense layer this narrow (the 10-class output) has its weight gradient computed transposed,
// out x in, with the wide side along the vector lanes instead of most lanes of each tile idle.
constexpr int64_t DENSE_NARROW_OUT = 12;

// Element-wise and reduction kernels split work into chunks of this many elements; the chunking
// is fixed (it does not depend on the thread count) so results are identical for any thread count.
constexpr int64_t ELEMENTWISE_CHUNK = 1 << 15;
// Below this many elements an element-wise kernel stays on the calling thread.
constexpr int64_t ELEMENTWISE_PARALLEL_MIN = 1 << 17;

}  // namespace fastnn
