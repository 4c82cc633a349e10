// numpy's BLAS without its spinning threads: OpenBLAS (0.3.27 and later) lets a program run its
// threaded kernels through a callback, and fastnn gives it one that runs them on run_gang's
// threads, which spin politely and then sleep. OpenBLAS's own workers, left without work, fall
// asleep for good, instead of spinning for ~0.1 s after every call on the cores that fastnn (or
// the next numpy call) needs.
#pragma once

#include <string>
#include <vector>

namespace fastnn {

// Hooks (enable) or unhooks every OpenBLAS loaded in this process that has the callback;
// returns the paths of those libraries. Linux only (elsewhere: none).
std::vector<std::string> share_blas_threads(bool enable);

}  // namespace fastnn
