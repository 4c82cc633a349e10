"""Run-time configuration: the kernel path in use and the size of the thread pool."""

from __future__ import annotations

import os
import platform
import sys
import warnings
from typing import List

from . import _C, dtype_policies

_VALID_ARCH = ("auto", "avx512_bf16", "avx512", "avx2", "generic")

_arch_env = os.environ.get("FASTNN_ARCH", "auto") or "auto"
if _arch_env not in _VALID_ARCH:
    raise ValueError(
        f"FASTNN_ARCH must be one of {', '.join(_VALID_ARCH)}; received FASTNN_ARCH={_arch_env!r}"
    )

#: The most threads ``set_num_threads`` accepts (and ``FASTNN_NUM_THREADS``).
MAX_THREADS: int = _C.max_threads

_threads_env = os.environ.get("FASTNN_NUM_THREADS")
if _threads_env is not None:
    try:
        _threads_ok = 1 <= int(_threads_env) <= MAX_THREADS
    except ValueError:
        _threads_ok = False
    if not _threads_ok:
        raise ValueError(
            f"FASTNN_NUM_THREADS must be an integer from 1 to {MAX_THREADS}; received "
            f"{_threads_env!r}"
        )


def share_blas_threads(enable: bool = True) -> List[str]:
    """Run the threaded kernels of numpy's BLAS on threads that sleep when idle (the default).

    numpy's OpenBLAS keeps its worker threads spinning for about 0.1 s after every call, on the
    cores that fastnn (or any other threaded code) runs on next: a fastnn GEMM right after a
    numpy one got half its speed. OpenBLAS 0.3.27 and later (numpy 2.4 bundles 0.3.31)
    accept another threading backend; fastnn gives it one whose threads spin for at most
    0.3 ms, yielding the core, then sleep, and OpenBLAS's own workers fall asleep for good.
    numpy's results are unchanged (the same kernels, the same split of the work) and its thread
    count stays its own (``threadpoolctl`` still sets it). ``import fastnn`` does this unless
    ``FASTNN_BLAS_THREADS=own``. A BLAS loaded later (scipy's own OpenBLAS, say) is included by
    calling this again.

    Args:
        enable: True to run them on fastnn's threads, False to give OpenBLAS its own back.

    Returns:
        The paths of the OpenBLAS libraries concerned (empty where there is none with the
        callback, or off Linux).

    Raises:
        TypeError: if ``enable`` is not a bool.
    """
    global _blas_shared
    if not isinstance(enable, bool):
        raise TypeError(f"share_blas_threads expects True or False; received {enable!r}")
    import numpy  # noqa: F401  # its BLAS must be loaded to be found

    libs = list(_C.share_blas_threads(enable))
    _blas_shared = libs if enable else []
    return libs


def set_num_threads(n: int) -> None:
    """Set how many threads fastnn's kernels use (the caller's thread counts as one).

    The threads start now. When the operating system refuses some (a limit on processes or
    memory), fastnn runs with those it got and warns; ``get_num_threads()`` then says how many.

    Args:
        n: an integer from 1 to ``fastnn.MAX_THREADS`` (1024).

    Raises:
        ValueError: if ``n`` is not such an integer.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads expects an integer from 1 to {MAX_THREADS}; "
                         f"received n={n!r}")
    got = _C.set_num_threads(n)
    if got < n:
        warnings.warn(f"set_num_threads({n}): the operating system started only {got} threads; "
                      f"fastnn runs with {got}", RuntimeWarning, stacklevel=2)


_BLAS_THREADS = ("shared", "own")
_blas_env = os.environ.get("FASTNN_BLAS_THREADS", "shared") or "shared"
if _blas_env not in _BLAS_THREADS:
    raise ValueError(f"FASTNN_BLAS_THREADS must be one of {', '.join(_BLAS_THREADS)}; received "
                     f"FASTNN_BLAS_THREADS={_blas_env!r}")
_blas_shared: List[str] = []
if _blas_env == "shared":
    share_blas_threads(True)


def get_num_threads() -> int:
    """Return how many threads fastnn's kernels use (fewer than asked if the operating
    system refused some)."""
    return int(_C.get_num_threads())


def _blas_state() -> str:
    if not _blas_shared:
        return "its own threads (FASTNN_BLAS_THREADS=own, or no OpenBLAS that takes a backend)"
    names = ", ".join(os.path.basename(p) for p in _blas_shared)
    return f"threaded by fastnn's gang threads ({names})"


def _blocking() -> str:
    b = _C.gemm_blocking()
    return (f"tile {b['mr']}x{b['nr']}, MC {b['mc']}, KC {b['kc']}, NC {b['nc']}; "
            f"small-M up to {b['small_m_max']} rows ({b['small_m_max_l2']} from L2)")


def _caches() -> str:
    c = _C.cache_sizes()
    return (f"L1d {c['l1d'] >> 10} KiB, L2 {c['l2'] >> 10} KiB per core, L3 "
            f"{c['l3'] >> 20} MiB (from {c['source']})")


def show_config() -> None:
    """Print the kernel path chosen for this CPU, the thread count, compiler and flags."""
    simd = _C.simd_flags or "(none: no SIMD path on this architecture)"
    lines = [
        f"fastnn {sys.modules['fastnn'].__version__}",
        f"  kernel path      : {_C.arch()} (FASTNN_ARCH={_arch_env}; CPU has "
        f"AVX2+FMA: {_C.cpu_supports_avx2_fma()}, AVX-512: {_C.cpu_supports_avx512()}, "
        f"AVX512-BF16: {_C.cpu_supports_avx512_bf16()})",
        f"  gemm micro-kernel: {_C.gemm_kernel()}",
        f"  bfloat16 gemm    : {_C.bf16_gemm_kernel()} (CPU has AVX512-BF16: "
        f"{_C.cpu_supports_avx512_bf16()})",
        f"  dtype policy     : {dtype_policies.dtype_policy().name} "
        f"(config.set_dtype_policy)",
        f"  gemm blocking    : {_blocking()}",
        f"  caches           : {_caches()}",
        f"  threads          : {_C.get_num_threads()} (CPUs available: {_C.available_cpus()})",
        f"  numpy's BLAS     : {_blas_state()}",
        f"  compiler         : {_C.compiler}",
        f"  baseline flags   : {_C.base_flags}",
        f"  SIMD-path flags  : {simd}",
        f"  machine          : {platform.machine()}, Python {platform.python_version()}",
    ]
    print("\n".join(lines))
