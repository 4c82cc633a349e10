// Peak float32 throughput, measured: the widest FMA loop the CPU runs, on every pool thread.
#include "peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

#include "cpu.h"
#include "threadpool.h"

namespace fastnn {

namespace {

// Without FMA hardware: 4-wide multiply and add (2 flops per lane), as SSE2 does.
#if defined(__GNUC__) || defined(__clang__)
typedef float v4 __attribute__((vector_size(16)));
#else
// MSVC has no vector extension: four lanes with the operators used below, which it vectorises.
struct v4 {
    float lane[4];
    float operator[](int i) const { return lane[i]; }
    friend v4 operator*(v4 a, v4 b) {
        for (int i = 0; i < 4; ++i) a.lane[i] *= b.lane[i];
        return a;
    }
    friend v4 operator+(v4 a, v4 b) {
        for (int i = 0; i < 4; ++i) a.lane[i] += b.lane[i];
        return a;
    }
    friend v4 operator+(v4 a, float b) { return a + v4{{b, b, b, b}}; }
};
#endif

}  // namespace

int64_t peak_fma_generic(int64_t iters, float* sink) {
    const v4 x = {0.999f, 0.999f, 0.999f, 0.999f}, y = {1e-3f, 1e-3f, 1e-3f, 1e-3f};
    v4 a[12];
    for (int j = 0; j < 12; ++j) a[j] = v4{} + 0.1f * static_cast<float>(j);
    for (int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < 12; ++j) a[j] = a[j] * x + y;
    float total = 0.f;
    for (int j = 0; j < 12; ++j) total += a[j][0] + a[j][1] + a[j][2] + a[j][3];
    *sink = total;
    return iters * 12 * 4 * 2;
}

double measure_peak_flops(double seconds) {
    int64_t (*loop)(int64_t, float*) = peak_fma_generic;
#ifdef FASTNN_HAVE_AVX2
    if (cpu_supports_avx2_fma()) loop = peak_fma_avx2;
#endif
#ifdef FASTNN_HAVE_AVX512
    if (cpu_supports_avx512()) loop = peak_fma_avx512;
#endif
    // Many small tasks, so a thread that starts late or is preempted does not idle the rest.
    const int64_t tasks = 64 * get_num_threads();
    float sink = 0.f;
    auto timed = [&](int64_t iters) {
        std::atomic<int64_t> flops{0};
        const auto t0 = std::chrono::steady_clock::now();
        parallel_for(tasks, [&](int64_t) {
            float s;
            flops += loop(iters, &s);
            if (s == -1.f) sink = s;  // never true; keeps the result observable
        });
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return std::pair<double, double>(static_cast<double>(flops.load()), dt);
    };
    int64_t iters = 1 << 10;
    double dt = timed(iters).second;
    while (dt < seconds / 10 && iters < (int64_t{1} << 40)) dt = timed(iters *= 4).second;
    const auto round_iters = static_cast<int64_t>(static_cast<double>(iters) * std::max(1.0, seconds / 3 / dt));
    double best = 0.0;
    for (int round = 0; round < 3; ++round) {  // the best of three rounds of about seconds / 3
        const auto r = timed(round_iters);
        best = std::max(best, r.first / r.second);
    }
    return best + sink;
}

}  // namespace fastnn
