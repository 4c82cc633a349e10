"""Run-time configuration: the kernel path in use and the size of the thread pool."""

from __future__ import annotations

import os
import platform
import sys

from . import _C

_VALID_ARCH = ("auto", "avx512", "avx2", "generic")

_arch_env = os.environ.get("FASTNN_ARCH", "auto") or "auto"
if _arch_env not in _VALID_ARCH:
    raise ValueError(
        f"FASTNN_ARCH must be one of {', '.join(_VALID_ARCH)}; received FASTNN_ARCH={_arch_env!r}"
    )

_threads_env = os.environ.get("FASTNN_NUM_THREADS")
if _threads_env is not None:
    try:
        _threads_ok = int(_threads_env) >= 1
    except ValueError:
        _threads_ok = False
    if not _threads_ok:
        raise ValueError(
            f"FASTNN_NUM_THREADS must be a positive integer; received {_threads_env!r}"
        )


def set_num_threads(n: int) -> None:
    """Set how many threads fastnn's kernels use (the caller's thread counts as one).

    Args:
        n: a positive integer.

    Raises:
        ValueError: if ``n`` is not a positive integer.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer; received n={n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """Return how many threads fastnn's kernels use."""
    return int(_C.get_num_threads())


def show_config() -> None:
    """Print the kernel path chosen for this CPU, the thread count, compiler and flags."""
    simd = _C.simd_flags or "(none: no SIMD path on this architecture)"
    lines = [
        f"fastnn {sys.modules['fastnn'].__version__}",
        f"  kernel path      : {_C.arch()} (FASTNN_ARCH={_arch_env}; CPU has "
        f"AVX2+FMA: {_C.cpu_supports_avx2_fma()}, AVX-512: {_C.cpu_supports_avx512()})",
        f"  gemm micro-kernel: {_C.gemm_kernel()}",
        f"  threads          : {_C.get_num_threads()} (CPUs available: {_C.available_cpus()})",
        f"  compiler         : {_C.compiler}",
        f"  baseline flags   : {_C.base_flags}",
        f"  SIMD-path flags  : {simd}",
        f"  machine          : {platform.machine()}, Python {platform.python_version()}",
    ]
    print("\n".join(lines))
