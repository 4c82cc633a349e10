// The persistent thread pool behind parallel_for: workers spin briefly, then sleep on a condvar.
#include "threadpool.h"

#include "cancel.h"

// pthread_atfork (Linux, macOS) and sched_getaffinity (Linux) are POSIX / glibc; Windows has
// neither (and no fork), so it has no fork handler and counts CPUs with hardware_concurrency.
#if !defined(_WIN32)
#include <pthread.h>
#include <sched.h>
#endif
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>  // _mm_pause
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fastnn {

namespace {

// Spinning this long before sleeping keeps back-to-back small kernels (a training step issues
// several per batch) from paying a futex wake-up each, without holding a core that numpy or the
// next process could use for long (OpenBLAS's workers, by default, spin for ~0.1 s). After the
// first YIELD_AFTER of it, each round also yields the core: a thread of another library (numpy's
// BLAS, starting its work right after ours) that wants this core gets it at once.
constexpr auto SPIN_TIME = std::chrono::microseconds(300);
constexpr auto YIELD_AFTER = std::chrono::microseconds(20);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    _mm_pause();  // MSVC has neither GNU builtin nor inline assembly on x64
#endif
}

// Jobs posted so far, by the pool and by the gang: an idle thread of one stops spinning once
// the other posts work, leaving the cores to it, and sleeps until its own has some.
std::atomic<uint64_t> jobs_posted{0};

// Spins until done() holds, SPIN_TIME has passed or give_up() holds; returns done().
template <class Done, class GiveUp>
bool spin_wait(Done done, GiveUp give_up) {
    const auto start = std::chrono::steady_clock::now();
    bool polite = false;
    for (int i = 1;; ++i) {
        if (done()) return true;
        if (give_up()) return done();
        if (polite) std::this_thread::yield();
        else cpu_relax();
        if (i % 64 == 0 || polite) {
            const auto spent = std::chrono::steady_clock::now() - start;
            if (spent > SPIN_TIME) return done();
            polite = spent > YIELD_AFTER;
        }
    }
}

template <class Done>
bool spin_wait(Done done) {
    return spin_wait(done, [] { return false; });
}

// An idle worker's wait for its next job: spinning, unless the other kind of thread has been
// given work meanwhile (its own kind's posting also counts, but is caught by posted() first).
template <class Posted>
bool idle_spin(Posted posted) {
    const uint64_t seen = jobs_posted.load(std::memory_order_relaxed);
    return spin_wait(posted, [&] { return jobs_posted.load(std::memory_order_relaxed) != seen; });
}

thread_local bool in_pool_task = false;

// Shared by its workers and by whoever runs a job on it: a pool replaced by set_num_threads is
// freed when its last worker has exited and its last job has returned.
class Pool {
public:
    // A pool of up to n threads (the caller's included). A thread the OS refuses (a process or
    // memory limit) is not retried: the pool keeps the workers it got.
    static std::shared_ptr<Pool> start(int n_threads) {
        std::shared_ptr<Pool> pool(new Pool());
        int started = 1;
        for (; started < n_threads; ++started) {
            try {
                std::thread([pool, started] { pool->worker_loop(started); }).detach();
            } catch (const std::system_error&) {
                break;
            }
        }
        pool->n_threads_ = started;
        return pool;
    }

    int size() const { return n_threads_; }
    std::mutex& job_mutex() { return job_mutex_; }
    // Read and written only under job_mutex().
    bool stopped() const { return stopping_; }

    // Caller holds job_mutex(). Workers join the job when they wake; once the caller has run out
    // of tasks it closes the job and waits only for workers that joined. A worker that is not
    // scheduled in time (another process, or numpy's BLAS threads spinning on the same core) is
    // simply not waited for: the caller runs its share instead of stalling for a time slice.
    void run(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
        fn_ = &fn;
        n_tasks_ = n_tasks;
        cancel_ = cancel_flag();
        next_task_.store(0, std::memory_order_relaxed);
        for (int64_t w = 0; w < claim_words(); ++w) claimed_[w].store(0, std::memory_order_relaxed);
        const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
        job_.store(gen << GEN_SHIFT, std::memory_order_release);
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            generation_.store(gen, std::memory_order_release);
        }
        jobs_posted.fetch_add(1, std::memory_order_relaxed);
        wake_cv_.notify_all();
        work(0);
        job_.fetch_or(CLOSED, std::memory_order_acq_rel);
        auto workers_done = [&] { return (job_.load(std::memory_order_acquire) & JOINED) == 0; };
        while (!spin_wait(workers_done)) std::this_thread::yield();
    }

    // Caller holds job_mutex(), and n <= size(). fn(i) on thread i (the caller's is 0), all at
    // once: unlike run(), the caller waits for every part, however late its worker is.
    void run_gang(int n, const std::function<void(int)>& fn) {
        gang_fn_ = &fn;
        gang_done_.store(0, std::memory_order_relaxed);
        const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
        gang_job_.store(gen << 16 | static_cast<uint64_t>(n), std::memory_order_relaxed);
        job_.store(gen << GEN_SHIFT | CLOSED, std::memory_order_release);  // no tasks to join
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            generation_.store(gen, std::memory_order_release);
        }
        jobs_posted.fetch_add(1, std::memory_order_relaxed);
        wake_cv_.notify_all();
        fn(0);
        auto all_done = [&] { return gang_done_.load(std::memory_order_acquire) == n - 1; };
        while (!spin_wait(all_done)) std::this_thread::yield();
    }

    // Only called while no job runs; workers exit at their next wake-up.
    void shutdown() {
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            stopping_ = true;
            generation_.fetch_add(1, std::memory_order_release);  // wakes the workers to exit
        }
        wake_cv_.notify_all();
    }

private:
    Pool() = default;

    int64_t claim_words() const { return n_tasks_ <= OWNED_MAX ? (n_tasks_ + 63) / 64 : 0; }

    // Claims task t for the calling thread; false if another thread has it.
    bool claim(int64_t t) {
        const uint64_t bit = uint64_t{1} << (t % 64);
        return !(claimed_[t / 64].fetch_or(bit, std::memory_order_relaxed) & bit);
    }

    // The tasks of thread `self` (0 is the caller): in a job of up to OWNED_MAX tasks each
    // thread owns a contiguous block, so that a thread meets the same data in its own cache
    // from one call to the next (half of a layer's weights, say). It runs its own block
    // forwards, then takes what is left of the others' blocks from their ends: a thread that
    // is late (descheduled, or its core taken by another library's spinning threads) holds
    // back the job by at most the task it is in. Tasks stop being started once the job's
    // caller is cancelled (cancel.h).
    void work(int self) {
        in_pool_task = true;
        CancelScope scope(cancel_);
        const int64_t n = n_tasks_;
        if (n > OWNED_MAX) {
            for (;;) {
                int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed);
                if (t >= n || cancelled()) break;
                (*fn_)(t);
            }
        } else {
            const int threads = n_threads_;
            auto first = [&](int i) { return n * i / threads; };
            for (int64_t t = first(self); t < first(self + 1) && !cancelled(); ++t)
                if (claim(t)) (*fn_)(t);
            for (int k = 1; k < threads; ++k) {
                const int other = (self + k) % threads;
                for (int64_t t = first(other + 1) - 1; t >= first(other) && !cancelled(); --t)
                    if (claim(t)) (*fn_)(t);
            }
        }
        in_pool_task = false;
    }

    // Joins job `gen` unless the caller has closed it (it then ran every task itself) or moved on
    // to a later job while this worker was not scheduled.
    bool try_join(uint64_t gen) {
        uint64_t s = job_.load(std::memory_order_acquire);
        while ((s >> GEN_SHIFT) == (gen & (~uint64_t{0} >> GEN_SHIFT)) && !(s & CLOSED)) {
            if (job_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return true;
        }
        return false;
    }

    void worker_loop(int self) {
        // Generation 0 is "no job yet": a job posted before this thread got here is still seen.
        uint64_t seen = 0;
        for (;;) {
            auto posted = [&] { return generation_.load(std::memory_order_acquire) != seen; };
            if (!idle_spin(posted)) {
                std::unique_lock<std::mutex> lock(wake_mutex_);
                wake_cv_.wait(lock, [&] { return generation_.load() != seen; });
            }
            seen = generation_.load(std::memory_order_acquire);
            {
                std::lock_guard<std::mutex> lock(wake_mutex_);
                if (stopping_) return;
            }
            // A gang job names its generation: a worker that slept through it (one it takes no
            // part in) never mistakes it for a later one.
            const uint64_t gang = gang_job_.load(std::memory_order_relaxed);
            if (gang >> 16 == seen) {
                if (self < static_cast<int>(gang & 0xffff)) {
                    (*gang_fn_)(self);
                    gang_done_.fetch_add(1, std::memory_order_release);
                }
            } else if (try_join(seen)) {
                work(self);
                job_.fetch_sub(1, std::memory_order_release);
            }
        }
    }

    int n_threads_ = 1;
    std::mutex job_mutex_;
    std::mutex wake_mutex_;
    std::condition_variable wake_cv_;
    std::atomic<uint64_t> generation_{0};
    bool stopping_ = false;
    const std::function<void(int64_t)>* fn_ = nullptr;
    int64_t n_tasks_ = 0;
    const std::atomic<bool>* cancel_ = nullptr;
    std::atomic<int64_t> next_task_{0};  // jobs of more than OWNED_MAX tasks
    // run_gang's job: its generation (high bits) and thread count (low 16), its parts, and how
    // many of the workers' parts are done.
    std::atomic<uint64_t> gang_job_{0};
    const std::function<void(int)>* gang_fn_ = nullptr;
    std::atomic<int> gang_done_{0};
    static constexpr int64_t OWNED_MAX = 1024;
    std::atomic<uint64_t> claimed_[OWNED_MAX / 64] = {};
    // The current job: its generation (high bits), CLOSED once the caller has finished its
    // tasks, and how many workers joined it (low bits).
    static constexpr int GEN_SHIFT = 33;
    static constexpr uint64_t CLOSED = uint64_t{1} << 32;
    static constexpr uint64_t JOINED = CLOSED - 1;
    std::atomic<uint64_t> job_{CLOSED};
};

// The gang behind run_gang. Its threads are never told to exit: they sleep between jobs.
class Gang {
public:
    void run(int n, const std::function<void(int)>& fn) {
        std::lock_guard<std::mutex> one_at_a_time(run_mutex_);
        const uint64_t gen = (job_.load(std::memory_order_relaxed) >> 32) + 1;
        while (threads_ < n - 1) {
            // Made before the job is posted: the new thread waits for this generation.
            const int self = threads_ + 1;
            try {
                std::thread([this, self, gen] { loop(self, gen - 1); }).detach();
            } catch (const std::system_error&) {
                // The parts wait on one another: run on fewer threads, they would never end.
                std::fprintf(stderr, "fastnn: the operating system refused a thread that numpy's "
                                     "BLAS needs; set FASTNN_BLAS_THREADS=own to let it run "
                                     "its own threads\n");
                std::abort();
            }
            threads_ = self;
        }
        fn_ = &fn;
        done_.store(0, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(wake_mutex_);
            job_.store(gen << 32 | static_cast<uint32_t>(n), std::memory_order_release);
        }
        jobs_posted.fetch_add(1, std::memory_order_relaxed);
        wake_cv_.notify_all();
        fn(0);
        auto all_done = [&] { return done_.load(std::memory_order_acquire) == n - 1; };
        while (!spin_wait(all_done)) std::this_thread::yield();
    }

private:
    // The job word holds the generation (high half) and the job's thread count (low half), so
    // a thread reads both at once.
    void loop(int self, uint64_t seen) {
        for (;;) {
            auto posted = [&] { return job_.load(std::memory_order_acquire) >> 32 != seen; };
            if (!idle_spin(posted)) {
                std::unique_lock<std::mutex> lock(wake_mutex_);
                wake_cv_.wait(lock, posted);
            }
            const uint64_t job = job_.load(std::memory_order_acquire);
            seen = job >> 32;
            // Every thread below n takes part, and the caller waits for all of them: a job
            // cannot end, nor the next begin, before each has run its part.
            if (self < static_cast<int>(job & 0xffffffffu)) {
                (*fn_)(self);
                done_.fetch_add(1, std::memory_order_release);
            }
        }
    }

    std::mutex run_mutex_, wake_mutex_;
    std::condition_variable wake_cv_;
    std::atomic<uint64_t> job_{0};
    std::atomic<int> done_{0};
    const std::function<void(int)>* fn_ = nullptr;
    int threads_ = 0;  // gang threads made so far (under run_mutex_)
};

// Never destroyed (gang threads outlive static destructors); after fork() the child starts a
// new one, as for the pool.
Gang*& gang_slot() {
    static Gang* g = nullptr;
    return g;
}

// The configuration lives in objects that are never destroyed: a daemon thread may still run a
// kernel while the interpreter exits and static destructors run.
struct Config {
    std::mutex mutex;                 // guards the two below
    std::shared_ptr<Pool> pool;       // created at the first parallel job or by set_num_threads
    int requested = 0;                // 0: not decided yet
};
Config& config() {
    static Config* c = new Config();
    return *c;
}

// The leading positive integer of an environment variable, or 0. OMP_NUM_THREADS may be a
// list ("4,2": one count per nesting level), whose first entry is the outer level's.
int env_threads(const char* name) {
    const char* env = std::getenv(name);
    if (env == nullptr) return 0;
    const int e = std::atoi(env);
    return e >= 1 ? e : 0;
}

int default_threads() {
    // FASTNN_NUM_THREADS first; then OMP_NUM_THREADS, which process managers set to the cores
    // they give each worker (Dask's nanny sets 1, joblib's loky cpus / n_jobs), as PyTorch and
    // OpenBLAS honour it: without it, two workers on two cores ran four busy threads.
    int n = env_threads("FASTNN_NUM_THREADS");
    if (n == 0) n = env_threads("OMP_NUM_THREADS");
    if (n == 0) n = available_cpus();
    return n < MAX_THREADS ? n : MAX_THREADS;
}

#if !defined(_WIN32)
void after_fork_in_child() {
    // The workers do not exist in the child and the mutex may be held by a thread that is gone:
    // start over with fresh state, the pool created again at the next parallel job. The old
    // pool's memory is left alone (its mutexes may be locked): one leak per fork.
    Config& c = config();
    new (&c.mutex) std::mutex();
    new (&c.pool) std::shared_ptr<Pool>();
    gang_slot() = nullptr;
}
#endif

void register_fork_handler() {
#if !defined(_WIN32)
    static bool registered = [] {
        pthread_atfork(nullptr, nullptr, after_fork_in_child);
        return true;
    }();
    (void)registered;
#endif
}

// Caller holds config().mutex.
std::shared_ptr<Pool>& pool_locked() {
    Config& c = config();
    register_fork_handler();
    if (c.requested == 0) c.requested = default_threads();
    if (!c.pool) c.pool = Pool::start(c.requested);
    return c.pool;
}

std::shared_ptr<Pool> get_pool() {
    std::lock_guard<std::mutex> lock(config().mutex);
    return pool_locked();
}

}  // namespace

int available_cpus() {
    // The affinity mask (taskset, cgroups cpusets) is Linux-only: CPU_COUNT comes with glibc's and
    // musl's sched_getaffinity, and macOS / Windows take the count of logical CPUs below.
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n;
    }
#endif
    unsigned n = std::thread::hardware_concurrency();
    return n ? static_cast<int>(n) : 1;
}

int get_num_threads() {
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.pool) return c.pool->size();
    if (c.requested == 0) c.requested = default_threads();
    return c.requested;
}

int set_num_threads(int n) {
    if (n < 1 || n > MAX_THREADS)
        throw std::invalid_argument("the thread count must be between 1 and " +
                                    std::to_string(MAX_THREADS) + "; received " + std::to_string(n));
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.pool && n == c.requested) return c.pool->size();
    c.requested = n;
    if (c.pool) {
        std::shared_ptr<Pool> old = std::move(c.pool);
        std::lock_guard<std::mutex> job(old->job_mutex());  // let a running job finish
        old->shutdown();
    }
    return pool_locked()->size();
}

void run_gang(int n, const std::function<void(int)>& fn) {
    if (n <= 1) {
        if (n == 1) fn(0);
        return;
    }
    // On the pool's threads when it has enough: one set of threads for fastnn and the library
    // calling, none of them spinning while the other works. Waits for a running job.
    std::shared_ptr<Pool> p = in_pool_task ? nullptr : get_pool();
    if (p && p->size() >= n) {
        std::lock_guard<std::mutex> job(p->job_mutex());
        if (!p->stopped()) {
            p->run_gang(n, fn);
            return;
        }
    }
    Gang* g;
    {
        std::lock_guard<std::mutex> lock(config().mutex);
        register_fork_handler();
        if (!gang_slot()) gang_slot() = new Gang();
        g = gang_slot();
    }
    g->run(n, fn);
}

void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
    if (n_tasks <= 0) return;
    std::shared_ptr<Pool> p = (n_tasks == 1 || in_pool_task) ? nullptr : get_pool();
    if (p && p->size() > 1) {
        std::unique_lock<std::mutex> job(p->job_mutex(), std::try_to_lock);
        // A pool shut down by set_num_threads between get_pool() and here has no workers left.
        if (job.owns_lock() && !p->stopped()) {
            p->run(n_tasks, fn);
            return;
        }
    }
    for (int64_t t = 0; t < n_tasks && !cancelled(); ++t) fn(t);
}

}  // namespace fastnn
