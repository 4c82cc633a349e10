// Finding OpenBLAS in the process (dl_iterate_phdr over the loaded objects, then dlsym under each
// of the names its builds export the setter as) and the callback that runs its jobs.
#include "blas_threads.h"

#include <cstddef>
#include <cstring>
#include <functional>

#include "threadpool.h"

#if defined(__linux__)
#include <dlfcn.h>
#include <link.h>
#define FASTNN_BLAS_HOOK 1
#endif

namespace fastnn {

#ifdef FASTNN_BLAS_HOOK
namespace {

// OpenBLAS's cblas.h: a job runs as dojob(thread_num, jobdata + i * elsize, dojob_data), and all
// of a call's jobs must run at the same time (they wait on one another's packed panels).
using dojob_fn = void (*)(int thread_num, void* jobdata, int dojob_data);
using threads_fn = void (*)(int sync, dojob_fn dojob, int numjobs, size_t jobdata_elsize,
                            void* jobdata, int dojob_data);
using set_callback_fn = void (*)(threads_fn);

// OpenBLAS always calls it synchronously (sync = 1); an asynchronous request is run to its end
// here all the same. thread_num is the job's index: OpenBLAS keeps a scratch buffer per index.
extern "C" void fastnn_blas_jobs(int /*sync*/, dojob_fn dojob, int numjobs, size_t elsize,
                                 void* jobdata, int dojob_data) {
    char* base = static_cast<char*>(jobdata);
    run_gang(numjobs, [&](int i) { dojob(i, base + static_cast<size_t>(i) * elsize, dojob_data); });
}

int collect(struct dl_phdr_info* info, size_t, void* out) {
    const char* name = info->dlpi_name;
    if (name && std::strstr(name, "openblas"))
        static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

}  // namespace

std::vector<std::string> share_blas_threads(bool enable) {
    // The setter's names: plain OpenBLAS, its 64-bit-integer builds, and the scipy-openblas
    // wheels that numpy and scipy bundle.
    static const char* const names[] = {
        "openblas_set_threads_callback_function",
        "openblas_set_threads_callback_function64_",
        "scipy_openblas_set_threads_callback_function",
        "scipy_openblas_set_threads_callback_function64_",
    };
    std::vector<std::string> loaded, hooked;
    dl_iterate_phdr(collect, &loaded);
    for (const std::string& path : loaded) {
        // RTLD_NOLOAD: a handle to the already loaded library, or nothing; it stays open, as
        // the library stays loaded while it can call us.
        void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
        if (!lib) continue;
        for (const char* name : names) {
            if (void* sym = dlsym(lib, name)) {
                reinterpret_cast<set_callback_fn>(sym)(enable ? fastnn_blas_jobs : nullptr);
                hooked.push_back(path);
                break;
            }
        }
    }
    return hooked;
}
#else
std::vector<std::string> share_blas_threads(bool) { return {}; }
#endif

}  // namespace fastnn
