// A small persistent thread pool: the caller plus (n - 1) workers run the tasks of one job.
#pragma once

#include <cstdint>
#include <functional>

namespace fastnn {

// fn(task) for every task in [0, n_tasks), spread over the pool; returns when all are done.
// Runs inline (serially, in order) when the pool has one thread, when n_tasks <= 1, when called
// from inside a task, or when another thread's job holds the pool. Once the caller's op is
// cancelled (cancel.h) no further task starts. Tasks must not depend on which
// thread runs them: scratch memory is thread_local, so results never depend on the thread count.
void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn);

// fn(r0, r1) over [0, rows) in blocks of about `chunk` elements (rows of `row_size` each): on
// the calling thread below `parallel_min` elements, else spread over the pool. The blocks depend
// only on the sizes, never on the thread count.
template <class Fn>
void parallel_rows(int64_t rows, int64_t row_size, int64_t chunk, int64_t parallel_min, Fn fn) {
    if (rows * row_size < parallel_min) {
        fn(int64_t{0}, rows);
        return;
    }
    const int64_t per = chunk / (row_size > 0 ? row_size : 1) + 1;
    parallel_for((rows + per - 1) / per, [&](int64_t t) {
        fn(t * per, (t + 1) * per < rows ? (t + 1) * per : rows);
    });
}

// fn(i) for every i in [0, n) at the same time, on n distinct threads: the caller's (i = 0) and
// n - 1 gang threads, made on first need and kept, separate from the pool. For work whose parts
// wait on one another (another library's threaded kernels, whose threads spin on each other's
// flags), where the pool's rule of running a late worker's task on the caller would deadlock.
// One gang job at a time: concurrent callers wait their turn. Gang threads spin politely as the
// pool's do, then sleep.
void run_gang(int n, const std::function<void(int)>& fn);

// The most threads a pool may have (set_num_threads refuses more: std::invalid_argument).
constexpr int MAX_THREADS = 1024;

// The threads of the pool (the caller's included): the requested count, or fewer when the OS
// refused some.
int get_num_threads();
// 1 <= n <= MAX_THREADS. Waits for a running job to finish, then starts a pool of n threads and
// returns how many it got (fewer than n when the OS refuses a thread: a process or memory limit).
int set_num_threads(int n);
// CPUs in this process' affinity mask (the default thread count unless FASTNN_NUM_THREADS or
// OMP_NUM_THREADS is set).
int available_cpus();

}  // namespace fastnn
