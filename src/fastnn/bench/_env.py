"""Benchmarks give fastnn and numpy's BLAS the same thread count. OpenBLAS reads its count when
numpy is imported, which has happened by the time a ``fastnn.bench`` module runs, so the
benchmark re-runs itself once with the variables set."""

from __future__ import annotations

import os
import sys
from typing import Sequence

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def rerun_with_blas_threads(module: str, argv: Sequence[str], threads: int) -> None:
    """Replaces this process by ``python -m module argv`` with the BLAS thread variables set to
    ``threads``, unless they already are.

    OpenBLAS's idle workers spin for ~0.1 s after each call, which would take a core from
    whichever library runs next; OPENBLAS_THREAD_TIMEOUT=20 (2^20 cycles, ~0.3 ms, about as long
    as fastnn's own workers spin) keeps alternating timings fair. Set it yourself to override.
    """
    want = str(threads)
    if all(os.environ.get(v) == want for v in BLAS_VARS) and "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return
    env = dict(os.environ)
    env.update({v: want for v in BLAS_VARS})
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or what platform knows of it."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
