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
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FASTNN_")}
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


def test_fastnn_arch_caps_the_kernel_path():
    code = """
        import numpy as np, fastnn
        from fastnn import _C
        rng = np.random.default_rng(0)
        a = rng.standard_normal((37, 300)).astype(np.float32)
        b = rng.standard_normal((300, 45)).astype(np.float32)
        print(_C.arch(), _C.gemm_kernel())
        err = np.abs(fastnn.ops.matmul(a, b) - a.astype(np.float64) @ b).max()
        print(err < 1e-3)
    """
    best = ("avx512" if _C.cpu_supports_avx512()
            else "avx2" if _C.cpu_supports_avx2_fma() else "generic")
    kernel = {"avx512": "sgemm_avx512_6x32", "avx2": "sgemm_avx2_6x16", "generic": "sgemm_ref_6x16"}
    levels = ["generic", "avx2", "avx512"]
    for requested in ["generic", "avx2", "avx512", "auto"]:
        r = run_python(code, FASTNN_ARCH=requested)
        assert r.returncode == 0, r.stderr
        cap = len(levels) if requested == "auto" else levels.index(requested) + 1
        expected = levels[min(levels.index(best), cap - 1)]
        assert r.stdout.split() == [expected, kernel[expected], "True"], requested


def test_unknown_arch_is_a_clear_error():
    r = run_python("import fastnn", FASTNN_ARCH="sse9")
    assert r.returncode != 0
    assert "FASTNN_ARCH must be one of auto, avx512, avx2, generic" in r.stderr


def test_thread_count_from_environment():
    r = run_python("import fastnn; print(fastnn.get_num_threads())", FASTNN_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"
    for value in ("zero", "0", "1025"):
        bad = run_python("import fastnn", FASTNN_NUM_THREADS=value)
        assert bad.returncode != 0
        assert "FASTNN_NUM_THREADS must be an integer from 1 to 1024" in bad.stderr


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


def test_interleaved_with_numpy_blas_and_python_threads(rng):
    """numpy's BLAS threads and several Python threads calling fastnn at once: right answers."""
    import threading

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

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []
