"""Kernel-path dispatch, thread-count control and show_config."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import _C


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("FASTNN_") and k != "OMP_NUM_THREADS"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_show_config_reports_path_threads_and_compiler(capsys):
    fastnn.show_config()
    text = capsys.readouterr().out
    assert f"kernel path      : {_C.arch()}" in text
    assert f"threads          : {fastnn.get_num_threads()}" in text
    assert _C.compiler in text
    assert "-O3" in text or "/O2" in text  # gcc / clang, or MSVC
    assert "-march=native" not in text
    assert f"KC {_C.gemm_blocking()['kc']}" in text and "L2" in text


def _sysfs_cache(level: int) -> int:
    """Bytes of CPU 0's level-`level` data or unified cache, as Linux reports it (0: not told)."""
    from pathlib import Path

    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if int((index / "level").read_text()) == level and \
                    (index / "type").read_text().strip() != "Instruction":
                size = (index / "size").read_text().strip()
                return int(size[:-1]) << {"K": 10, "M": 20}[size[-1]]
        except (OSError, ValueError, KeyError):
            continue
    return 0


def test_cache_sizes_agree_with_the_os_and_set_the_blocking():
    c = _C.cache_sizes()
    assert c["source"] in ("cpuid", "sysfs", "assumed")
    assert 4 << 10 <= c["l1d"] <= c["l2"] <= 64 << 20
    for level, key in ((1, "l1d"), (2, "l2")):
        if _sysfs_cache(level):
            assert c[key] == _sysfs_cache(level), key
    b = _C.gemm_blocking()
    # an MC x KC block of A is a quarter of L2, in whole tiles, within [48, 480] rows
    want = c["l2"] // 4 // (b["kc"] * 4) // b["mr"] * b["mr"]
    assert b["mc"] == min(480, max(48, want))
    assert b["mc"] % b["mr"] == 0 and b["nc"] % b["nr"] == 0
    assert b["small_m_max"] <= b["small_m_max_l2"]


def test_fastnn_arch_caps_the_kernel_path():
    code = """
        import numpy as np, fastnn
        from fastnn import _C
        rng = np.random.default_rng(0)
        a = rng.standard_normal((37, 300)).astype(np.float32)
        b = rng.standard_normal((300, 45)).astype(np.float32)
        print(_C.arch(), _C.gemm_kernel(), _C.bf16_gemm_kernel())
        err = np.abs(fastnn.ops.matmul(a, b) - a.astype(np.float64) @ b).max()
        print(err < 1e-3)
    """
    best = ("avx512_bf16" if _C.cpu_supports_avx512_bf16()
            else "avx512" if _C.cpu_supports_avx512()
            else "avx2" if _C.cpu_supports_avx2_fma() else "generic")
    kernel = {"avx512_bf16": "sgemm_avx512_6x32", "avx512": "sgemm_avx512_6x32",
              "avx2": "sgemm_avx2_6x16", "generic": "sgemm_ref_6x16"}
    levels = ["generic", "avx2", "avx512", "avx512_bf16"]
    for requested in levels + ["auto"]:
        r = run_python(code, FASTNN_ARCH=requested)
        assert r.returncode == 0, r.stderr
        cap = len(levels) if requested == "auto" else levels.index(requested) + 1
        expected = levels[min(levels.index(best), cap - 1)]
        bf16 = "sbgemm_avx512bf16_6x32" if expected == "avx512_bf16" else "sbgemm_ref_6x16"
        assert r.stdout.split() == [expected, kernel[expected], bf16, "True"], requested


def test_unknown_arch_is_a_clear_error():
    r = run_python("import fastnn", FASTNN_ARCH="sse9")
    assert r.returncode != 0
    assert "FASTNN_ARCH must be one of auto, avx512_bf16, avx512, avx2, generic" in r.stderr


def test_thread_count_from_environment():
    r = run_python("import fastnn; print(fastnn.get_num_threads())", FASTNN_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"
    for value in ("zero", "0", "1025"):
        bad = run_python("import fastnn", FASTNN_NUM_THREADS=value)
        assert bad.returncode != 0
        assert "FASTNN_NUM_THREADS must be an integer from 1 to 1024" in bad.stderr


def test_omp_num_threads_sets_the_default_as_process_managers_use_it():
    # Dask's nanny sets OMP_NUM_THREADS=1 in each worker, joblib's loky cpus // n_jobs.
    count = "import fastnn; print(fastnn.get_num_threads())"
    for value, expected in (("1", "1"), ("3", "3"), ("3,2", "3")):
        r = run_python(count, OMP_NUM_THREADS=value)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == expected, value
    r = run_python(count, OMP_NUM_THREADS="1", FASTNN_NUM_THREADS="2")
    assert r.stdout.strip() == "2", "FASTNN_NUM_THREADS comes first"
    # Not fastnn's variable: a value OpenMP itself would not take leaves the default.
    r = run_python("import os, fastnn; "
                   "print(fastnn.get_num_threads() == len(os.sched_getaffinity(0)))",
                   OMP_NUM_THREADS="many")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_default_thread_count_is_the_available_cpus():
    r = run_python("import os, fastnn; "
                   "print(fastnn.get_num_threads(), len(os.sched_getaffinity(0)))")
    assert r.returncode == 0, r.stderr
    threads, cpus = r.stdout.split()
    assert threads == cpus


def test_set_num_threads(restore_threads):
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1
    fastnn.set_num_threads(4)
    assert fastnn.get_num_threads() == 4
    a = np.ones((200, 300), np.float32)
    np.testing.assert_array_equal(fastnn.ops.matmul(a, a.T), np.full((200, 200), 300, np.float32))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None, fastnn.MAX_THREADS + 1])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="an integer from 1 to 1024"):
        fastnn.set_num_threads(bad)


def test_pool_works_after_fork():
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    code = """
        import os, numpy as np, fastnn
        a = np.ones((300, 300), np.float32)
        fastnn.ops.matmul(a, a)          # the pool is running before the fork
        pid = os.fork()
        if pid == 0:
            ok = fastnn.ops.matmul(a, a)[0, 0] == 300
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_interleaved_with_numpy_blas_and_python_threads(rng, run_in_threads):
    """numpy's BLAS threads and several Python threads calling fastnn at once: right answers."""
    a = rng.standard_normal((256, 300)).astype(np.float32)
    b = rng.standard_normal((300, 200)).astype(np.float32)
    want = a.astype(np.float64) @ b
    for _ in range(5):
        np.dot(a, b)  # wakes numpy's BLAS threads
        np.testing.assert_allclose(fastnn.ops.matmul(a, b), want, rtol=1e-4, atol=1e-3)

    errors = []

    def worker(seed):
        r = np.random.default_rng(seed)
        x = r.standard_normal((130, 270)).astype(np.float32)
        y = r.standard_normal((270, 150)).astype(np.float32)
        ref = x.astype(np.float64) @ y
        for _ in range(20):
            got = fastnn.ops.matmul(x, y)
            if not np.allclose(got, ref, rtol=1e-4, atol=1e-3):
                errors.append(seed)

    run_in_threads(worker, [(s,) for s in range(4)], timeout=60)
    assert errors == []
