// Aligned scratch buffers and their allocation counter.
#include "memory.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace fastnn {

namespace {
std::atomic<int64_t> allocations{0};
}

int64_t allocation_count() { return allocations.load(std::memory_order_relaxed); }

FloatBuffer::~FloatBuffer() { std::free(data_); }

float* FloatBuffer::get(int64_t n) {
    if (n > capacity_) {
        std::free(data_);
        data_ = nullptr;
        capacity_ = 0;
        // Grow to a power of two (at least 64 Ki floats): a thread's packing buffer then settles
        // after a few shapes, whichever thread of the pool happens to run which job.
        int64_t want = int64_t{1} << 16;
        while (want < n) want *= 2;
        n = want;
        const size_t bytes = static_cast<size_t>(n) * sizeof(float);
        data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!data_) throw std::bad_alloc();
        capacity_ = n;
        allocations.fetch_add(1, std::memory_order_relaxed);
    }
    return data_;
}

}  // namespace fastnn
