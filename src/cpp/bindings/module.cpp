// The compiled module fastnn._C: configuration here, each kernel family in its own binding file.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#if !defined(_WIN32)
#include <pthread.h>
#endif

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "../kernels/blas_threads.h"
#include "../kernels/cache.h"
#include "../kernels/config.h"
#include "../kernels/cpu.h"
#include "../kernels/gemm.h"
#include "../kernels/memory.h"
#include "../kernels/peak.h"
#include "../kernels/threadpool.h"
#include "calls.h"

namespace py = pybind11;
using namespace fastnn;

namespace fastnn_bindings {
void init_ops(py::module_& m);
void init_optim(py::module_& m);
void init_nn(py::module_& m);

namespace {
std::atomic<unsigned long> main_thread_ident{0};

#if !defined(_WIN32)
void main_thread_after_fork() { main_thread_ident = PyThread_get_thread_ident(); }
#endif
}  // namespace

bool is_main_thread() { return PyThread_get_thread_ident() == main_thread_ident.load(); }
}  // namespace fastnn_bindings

// threadpoolctl recognises a library by the C functions it exports and calls them through ctypes
// (fastnn/_threadpoolctl.py registers fastnn's controller): these are fastnn's two.
#if defined(_WIN32)
#define FASTNN_C_API extern "C" __declspec(dllexport)
#else
#define FASTNN_C_API extern "C" __attribute__((visibility("default")))
#endif
FASTNN_C_API int fastnn_get_num_threads() { return get_num_threads(); }
FASTNN_C_API int fastnn_set_num_threads(int n) {
    // No exception may cross a C boundary: out-of-range counts are clamped, and a pool that could
    // not be made leaves the count as it was.
    n = n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : n);
    try {
        return set_num_threads(n);
    } catch (...) {
        return get_num_threads();
    }
}

PYBIND11_MODULE(_C, m) {
    m.doc() = "fastnn's compiled kernels (private: use the fastnn package).";
    // The module may be imported from any thread: ask threading which one runs signal handlers.
    fastnn_bindings::main_thread_ident =
        py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
#if !defined(_WIN32)
    pthread_atfork(nullptr, nullptr, fastnn_bindings::main_thread_after_fork);
#endif

    // ---- configuration ----
    m.def("arch", [] { return std::string(arch_name(active_arch())); },
          "Kernel path in use: 'avx512', 'avx2' or 'generic'.");
    m.def("cpu_supports_avx2_fma", &cpu_supports_avx2_fma);
    m.def("cpu_supports_avx512", &cpu_supports_avx512);
    m.def("gemm_kernel", [] { return std::string(sgemm_kernel_name()); });
    m.def("bf16_gemm_kernel", [] { return std::string(sbgemm_kernel_name()); },
          "The bfloat16 GEMM's micro-kernel: sbgemm_avx512bf16_6x32, or the portable one.");
    m.def("cpu_supports_avx512_bf16", &cpu_supports_avx512_bf16);
    m.def("gemm_blocking", [] {
        const GemmBlocking b = sgemm_blocking();
        py::dict d;
        d["mr"] = b.mr, d["nr"] = b.nr, d["mc"] = b.mc, d["kc"] = b.kc, d["nc"] = b.nc;
        d["small_m_max"] = b.small_m_max, d["small_m_max_l2"] = b.small_m_max_l2;
        return d;
    }, "The GEMM's tile and block sizes, chosen at import for this CPU.");
    m.attr("dense_as_sparse_min_width") = DENSE_AS_SPARSE_MIN_WIDTH;
    m.attr("dense_as_sparse_max_density") = DENSE_AS_SPARSE_MAX_DENSITY;
    m.def("cache_sizes", [] {
        const CacheSizes& c = cache_sizes();
        py::dict d;
        d["l1d"] = c.l1d, d["l2"] = c.l2, d["l3"] = c.l3, d["source"] = std::string(c.source);
        return d;
    }, "Bytes of one core's L1 data cache and L2 and of the L3, and where they were read.");
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", &set_num_threads, py::arg("n"), py::call_guard<fastnn_bindings::ReleaseGil>(),
          "Starts a pool of n threads (1 <= n <= max_threads) and returns how many it got.");
    m.attr("max_threads") = MAX_THREADS;
    m.def("gang_rendezvous", [](int n) {
        // Each part waits for every other to arrive, as OpenBLAS's parts wait on one another:
        // true when all n met, which only parts running at the same time can do (false after
        // 20 s instead of a hang).
        std::atomic<int> arrived{0};
        std::atomic<bool> met{true};
        std::vector<int> seen(static_cast<size_t>(n), 0);
        run_gang(n, [&](int i) {
            arrived.fetch_add(1);
            const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (arrived.load() < n)
                if (std::chrono::steady_clock::now() > give_up) { met = false; break; }
            seen[static_cast<size_t>(i)] += 1;
        });
        for (int v : seen) met = met && v == 1;
        return met.load();
    }, py::arg("n"), py::call_guard<fastnn_bindings::ReleaseGil>(),
       "Tests the gangs that run numpy's BLAS: n parts that wait for each other all finish.");
    m.def("share_blas_threads", &share_blas_threads, py::arg("enable"),
          "Runs (or stops running) the threaded kernels of every OpenBLAS loaded in the process on "
          "fastnn's gang threads; returns the libraries concerned.");
    m.def("available_cpus", &available_cpus);
    m.def("measure_peak_flops", &measure_peak_flops, py::arg("seconds") = 1.0,
          py::call_guard<fastnn_bindings::ReleaseGil>(),
          "float32 flop/s of FMA loops on every pool thread, widest vectors the CPU has");
    m.def("allocation_count", &allocation_count,
          "Scratch buffers the kernels have allocated so far (tests check a warm step adds none).");
    m.attr("compiler") = FASTNN_COMPILER;
    m.attr("base_flags") = FASTNN_BASE_FLAGS;
    m.attr("simd_flags") = FASTNN_SIMD_FLAGS;

    fastnn_bindings::init_ops(m);
    fastnn_bindings::init_optim(m);
    fastnn_bindings::init_nn(m);
}
