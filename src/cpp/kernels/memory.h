// Scratch memory of the kernels: 64-byte aligned float buffers that grow and are kept, and a count
// of allocations so that tests can check a warmed-up training step allocates nothing.
#pragma once

#include <cstdint>

namespace fastnn {

// How many buffers the kernels have allocated since the process started (all threads).
int64_t allocation_count();

// An aligned float buffer that only ever grows. Throws std::bad_alloc when memory runs out.
class FloatBuffer {
public:
    FloatBuffer() = default;
    FloatBuffer(const FloatBuffer&) = delete;
    FloatBuffer& operator=(const FloatBuffer&) = delete;
    FloatBuffer(FloatBuffer&& o) noexcept : data_(o.data_), capacity_(o.capacity_) {
        o.data_ = nullptr;
        o.capacity_ = 0;
    }
    ~FloatBuffer();
    // At least n floats, 64-byte aligned; the contents are not kept when it grows.
    float* get(int64_t n);
    float* data() const { return data_; }

private:
    float* data_ = nullptr;
    int64_t capacity_ = 0;
};

}  // namespace fastnn
