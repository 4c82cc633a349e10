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
    ``threads``, unless they already are. (numpy's OpenBLAS threads no longer need a shorter
    spin: ``import fastnn`` runs them on its own pool, see ``fastnn.share_blas_threads``.)
    """
    want = str(threads)
    if all(os.environ.get(v) == want for v in BLAS_VARS):
        return
    env = dict(os.environ)
    env.update({v: want for v in BLAS_VARS})
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
