// Aligned scratch buffers and their allocation counter.
#include "memory.h"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(_MSC_VER)
#include <malloc.h>
#endif

namespace fastnn {

namespace {
std::atomic<int64_t> allocations{0};

// C++17's aligned_alloc is missing from MSVC's C library (its free() cannot release aligned
// blocks): MSVC pairs _aligned_malloc with _aligned_free instead.
void* alloc_aligned(size_t alignment, size_t bytes) {
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, alignment);
#else
    return std::aligned_alloc(alignment, bytes);
#endif
}

void free_aligned(void* p) {
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    std::free(p);
#endif
}
}  // namespace

int64_t allocation_count() { return allocations.load(std::memory_order_relaxed); }

FloatBuffer::~FloatBuffer() { free_aligned(data_); }

float* FloatBuffer::get(int64_t n) {
    if (n > capacity_) {
        free_aligned(data_);
        data_ = nullptr;
        capacity_ = 0;
        // Grow to a power of two (at least 64 Ki floats): a thread's packing buffer then settles
        // after a few shapes, whichever thread of the pool happens to run which job.
        int64_t want = int64_t{1} << 16;
        while (want < n) want *= 2;
        n = want;
        const size_t bytes = static_cast<size_t>(n) * sizeof(float);
        data_ = static_cast<float*>(alloc_aligned(64, bytes));
        if (!data_) throw std::bad_alloc();
        capacity_ = n;
        allocations.fetch_add(1, std::memory_order_relaxed);
    }
    return data_;
}

}  // namespace fastnn
