// Dropout masks from a counter-based hash (no generator state to share between threads).
#include "dropout.h"

#include "../kernels/config.h"
#include "../kernels/elementwise.h"
#include "../kernels/threadpool.h"

namespace fastnn {

namespace {

// SplitMix64's finaliser (Steele, Lea & Flood, 2014): a bijection that mixes every input bit
// into every output bit. It turns (seed, counter) into the key of one call.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// MurmurHash3's 32-bit finaliser over (element index, key): 32-bit multiplies, which vectorise,
// where a 64-bit mix per element would cost as much as the layer's GEMM.
inline uint32_t element_hash(uint64_t i, uint32_t k0, uint32_t k1) {
    uint32_t h = static_cast<uint32_t>(i) * 0x9E3779B1u + k0;
    h ^= static_cast<uint32_t>(i >> 32) * 0x85EBCA77u;  // indices past 2^32 stay distinct
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    h ^= k1;
    h *= 0x27D4EB2Fu;
    h ^= h >> 15;
    return h;
}

}  // namespace

void dropout_forward(float* y, float* mask, const float* x, int64_t ldx, int64_t B, int64_t D,
                     float rate, uint64_t seed, uint64_t counter) {
    const uint64_t key = mix64(seed ^ mix64(counter + 0x9E3779B97F4A7C15ull));
    const uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    // u = top 24 bits / 2^24 >= rate  <=>  top 24 bits >= threshold
    const double t = static_cast<double>(rate) * 16777216.0;
    const uint32_t threshold = static_cast<uint32_t>(t) + (t > static_cast<uint32_t>(t) ? 1u : 0u);
    const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
    parallel_rows(B, D, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* xr = x + r * ldx;
            float* yr = y + r * D;
            float* mr = mask + r * D;
            const uint64_t base = static_cast<uint64_t>(r) * static_cast<uint64_t>(D);
            for (int64_t j = 0; j < D; ++j) {
                const uint32_t u = element_hash(base + static_cast<uint64_t>(j), k0, k1) >> 8;
                const float m = u >= threshold ? scale : 0.0f;
                mr[j] = m;
                yr[j] = xr[j] * m;
            }
        }
    });
}

void dropout_backward(float* dx, const float* dy, const float* mask, int64_t n, bool accumulate) {
    static const ElementwiseLoops& loops = elementwise_loops();
    const binary_loop_fn mul = loops.binary[static_cast<int>(BinaryOp::multiply)];
    parallel_rows(n, 1, ELEMENTWISE_CHUNK, ELEMENTWISE_PARALLEL_MIN, [&](int64_t i0, int64_t i1) {
        if (!accumulate) {
            mul(dx + i0, dy + i0, 1, mask + i0, 1, i1 - i0);
            return;
        }
        for (int64_t i = i0; i < i1; ++i) dx[i] += dy[i] * mask[i];
    });
}

}  // namespace fastnn
