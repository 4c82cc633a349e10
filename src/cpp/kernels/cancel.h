// Cooperative cancellation of a long-running op (Ctrl-C): the caller waiting for the op sets a
// flag, and the kernels stop starting new blocks once it is set.
#pragma once

#include <atomic>

namespace fastnn {

// The flag of the op this thread is running, or null (nothing can cancel it). parallel_for hands
// it to the pool's workers for the tasks they run, so a kernel polls it on any thread.
const std::atomic<bool>* cancel_flag();

// True once the running op has been cancelled. Polled between blocks (GEMM's row and depth
// blocks, parallel_for's tasks): an op cut short leaves its output unspecified, and its caller
// must discard it. Costs a thread-local load and, inside a cancellable op, a relaxed atomic load.
inline bool cancelled() {
    const std::atomic<bool>* f = cancel_flag();
    return f && f->load(std::memory_order_relaxed);
}

// Makes `flag` this thread's cancel flag for the scope (null: this part cannot be cancelled, as
// an optimizer update, which must never be left half done), then restores the previous one.
class CancelScope {
public:
    explicit CancelScope(const std::atomic<bool>* flag);
    ~CancelScope();
    CancelScope(const CancelScope&) = delete;
    CancelScope& operator=(const CancelScope&) = delete;

private:
    const std::atomic<bool>* previous_;
};

}  // namespace fastnn
