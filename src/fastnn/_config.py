"""Run-time configuration: the kernel path in use and the size of the thread pool."""

from __future__ import annotations

import os
import platform
import sys
import warnings

from . import _C

_VALID_ARCH = ("auto", "avx512", "avx2", "generic")

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


def get_num_threads() -> int:
    """Return how many threads fastnn's kernels use (fewer than asked if the operating
    system refused some)."""
    return int(_C.get_num_threads())


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
        f"AVX2+FMA: {_C.cpu_supports_avx2_fma()}, AVX-512: {_C.cpu_supports_avx512()})",
        f"  gemm micro-kernel: {_C.gemm_kernel()}",
        f"  gemm blocking    : {_blocking()}",
        f"  caches           : {_caches()}",
        f"  threads          : {_C.get_num_threads()} (CPUs available: {_C.available_cpus()})",
        f"  compiler         : {_C.compiler}",
        f"  baseline flags   : {_C.base_flags}",
        f"  SIMD-path flags  : {simd}",
        f"  machine          : {platform.machine()}, Python {platform.python_version()}",
    ]
    print("\n".join(lines))
