// How a binding runs a kernel: without the GIL, and, when the op is long and called from the
// main thread, on a helper thread while the caller watches for Ctrl-C.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "../kernels/cancel.h"

namespace fastnn_bindings {

namespace py = pybind11;

// Releases the GIL for its scope. Unlike py::gil_scoped_release, its destructor may end the
// thread: a daemon thread that returns from a kernel while the interpreter shuts down is stopped
// by Python inside PyEval_RestoreThread (pthread_exit, which unwinds the stack), and a noexcept
// destructor (the default) would turn that unwinding into std::terminate.
class ReleaseGil {
public:
    ReleaseGil() : state_(PyEval_SaveThread()) {}
    ~ReleaseGil() noexcept(false) { PyEval_RestoreThread(state_); }
    ReleaseGil(const ReleaseGil&) = delete;
    ReleaseGil& operator=(const ReleaseGil&) = delete;

    // Runs Python's pending signal handlers with the GIL held for a moment; false when one
    // raised (its exception, KeyboardInterrupt for Ctrl-C, stays set on this thread).
    bool check_signals() {
        PyEval_RestoreThread(state_);
        const bool ok = PyErr_CheckSignals() == 0;
        state_ = PyEval_SaveThread();
        return ok;
    }

private:
    PyThreadState* state_;
};

// Ops estimated to run at least this long are watched for Ctrl-C: starting the helper thread
// costs tens of microseconds, under 1 % of such an op.
constexpr double WATCH_MIN_SECONDS = 0.01;
// How often the watching thread looks for a signal: Ctrl-C must stop an op within 0.2 s, and a
// cancelled kernel takes a block (a few milliseconds) to notice.
constexpr auto WATCH_PERIOD = std::chrono::milliseconds(20);

// Rough seconds for `flops` floating-point operations plus `elements` floats streamed through
// memory, on one core with FMA units: only compared with WATCH_MIN_SECONDS. An op estimated
// under it is short enough (tens of milliseconds even on a slow CPU) for Ctrl-C to wait.
constexpr double estimated_seconds(double flops, double elements) {
    return flops / 1e11 + elements / 5e9;
}

// Only the main thread runs Python's signal handlers; a process forked from another thread
// makes that thread the child's main thread.
bool is_main_thread();

// fn() with the GIL released (the caller holds it). When the op is long (estimated_seconds) and
// this is the main thread, fn runs on a helper thread with a cancel flag (cancel.h) while this
// thread checks for signals every WATCH_PERIOD; a signal handler that raises (Ctrl-C) cancels
// fn, and once fn has stopped its exception is raised here (py::error_already_set). An exception
// fn throws is rethrown here. fn must leave whatever it shares with Python consistent when it is
// cancelled: kernels' outputs are then unspecified, so ops with an output the caller keeps (the
// optimizer updates) never run cancellably.
template <class Fn>
void run_kernel(double seconds, Fn&& fn) {
    if (seconds < WATCH_MIN_SECONDS || !is_main_thread()) {
        ReleaseGil release;
        fn();
        return;
    }
    struct Watch {
        std::atomic<bool> cancel{false};
        std::mutex mutex;
        std::condition_variable cv;
        bool done = false;
        std::exception_ptr error;
    } w;
    bool interrupted = false;
    {
        ReleaseGil release;
        std::thread helper;
        try {
            helper = std::thread([&w, &fn] {
                {
                    fastnn::CancelScope scope(&w.cancel);
                    try {
                        fn();
                    } catch (...) {
                        w.error = std::current_exception();
                    }
                }
                std::lock_guard<std::mutex> lock(w.mutex);
                w.done = true;
                w.cv.notify_one();
            });
        } catch (const std::system_error&) {
            fn();  // no thread to spare: run here, where Ctrl-C waits for the op to end
            return;
        }
        std::unique_lock<std::mutex> lock(w.mutex);
        while (!w.cv.wait_for(lock, WATCH_PERIOD, [&w] { return w.done; })) {
            if (interrupted) continue;
            lock.unlock();
            if (!release.check_signals()) {
                interrupted = true;
                w.cancel.store(true, std::memory_order_relaxed);
            }
            lock.lock();
        }
        lock.unlock();
        helper.join();
    }
    if (interrupted) throw py::error_already_set();
    if (w.error) std::rethrow_exception(w.error);
}

}  // namespace fastnn_bindings
