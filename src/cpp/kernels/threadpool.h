// A small persistent thread pool: the caller plus (n - 1) workers run the tasks of one job.
#pragma once

#include <cstdint>
#include <functional>

namespace fastnn {

// fn(task) for every task in [0, n_tasks), spread over the pool; returns when all are done.
// Runs inline (serially, in order) when the pool has one thread, when n_tasks <= 1, when called
// from inside a task, or when another thread's job holds the pool. Tasks must not depend on which
// thread runs them: scratch memory is thread_local, so results never depend on the thread count.
void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn);

int get_num_threads();
// n >= 1. Waits for a running job to finish, then resizes the pool.
void set_num_threads(int n);
// CPUs in this process' affinity mask (the default thread count unless FASTNN_NUM_THREADS is set).
int available_cpus();

}  // namespace fastnn
