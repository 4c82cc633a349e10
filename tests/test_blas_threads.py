"""numpy's OpenBLAS run on fastnn's gang threads (fastnn.share_blas_threads): gangs whose parts
wait on one another, the same results as with OpenBLAS's own threads, from several threads at
once, after fork, and undone on request."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import _C, _config, ops


@pytest.fixture
def shared():
    """numpy's BLAS on fastnn's threads for the test (skipped where there is no such BLAS);
    the state before is put back afterwards."""
    before = bool(_config._blas_shared)
    if not fastnn.share_blas_threads(True):
        pytest.skip("numpy's BLAS is not an OpenBLAS that takes a threading backend (>= 0.3.27)")
    yield
    fastnn.share_blas_threads(before)


def operands(seed=0):
    rng = np.random.default_rng(seed)
    # large enough for OpenBLAS to thread them
    return (rng.standard_normal((700, 600), dtype=np.float32),
            rng.standard_normal((600, 900), dtype=np.float32),
            rng.standard_normal((300, 300)))


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_a_gangs_parts_all_run_at_once(n, restore_threads):
    # on the pool when it is large enough, on the separate gang otherwise
    for threads in (1, 2, 8):
        fastnn.set_num_threads(threads)
        assert _C.gang_rendezvous(n)


def test_gangs_from_several_threads_take_turns(restore_threads, run_in_threads):
    fastnn.set_num_threads(2)
    results = []

    def work():
        results.extend(_C.gang_rendezvous(n) for n in (2, 3, 2, 4))

    run_in_threads(work, [()] * 4, timeout=120)
    assert results == [True] * 16


def test_numpy_gives_the_same_results_on_either_threads(shared):
    a, b, s = operands()
    ours = a @ b, s @ s.T, np.linalg.solve(s, s @ np.ones(300)), np.linalg.svd(s)[1]
    fastnn.share_blas_threads(False)
    own = a @ b, s @ s.T, np.linalg.solve(s, s @ np.ones(300)), np.linalg.svd(s)[1]
    fastnn.share_blas_threads(True)
    np.testing.assert_array_equal(ours[0], own[0])
    np.testing.assert_array_equal(ours[1], own[1])
    np.testing.assert_allclose(ours[2], own[2], rtol=1e-10)
    np.testing.assert_allclose(ours[3], own[3], rtol=1e-10)
    np.testing.assert_allclose(ours[2], 1.0, rtol=1e-6)


def test_numpy_and_fastnn_from_several_threads_at_once(shared, run_in_threads):
    a, b, _ = operands(1)
    want = a @ b
    want_fast = ops.matmul(a, b)
    failures = []

    def work(i):
        for _ in range(15):
            if i % 2:
                ok = np.array_equal(ops.matmul(a, b), want_fast)
            else:
                ok = np.array_equal(a @ b, want)
            if not ok:
                failures.append(i)

    run_in_threads(work, [(i,) for i in range(4)], timeout=120)
    assert not failures


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_runs_numpy_and_fastnn(shared):
    code = """
        import os, signal, numpy as np, fastnn
        a = np.ones((600, 600), np.float32)
        a @ a
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)  # a hung child must not outlive the test
            ok = (a @ a)[0, 0] == 600 and fastnn.ops.matmul(a, a)[0, 0] == 600
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_the_environment_variable_keeps_numpys_own_threads():
    code = "import fastnn; from fastnn import _config; print(bool(_config._blas_shared))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTNN_")}
    own = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(env, FASTNN_BLAS_THREADS="own"), timeout=60)
    assert own.stdout.strip() == "False", own.stderr
    bad = subprocess.run([sys.executable, "-c", "import fastnn"], capture_output=True, text=True,
                         env=dict(env, FASTNN_BLAS_THREADS="yes"), timeout=60)
    assert bad.returncode != 0 and "FASTNN_BLAS_THREADS must be one of shared, own" in bad.stderr


def test_share_blas_threads_wants_a_bool():
    with pytest.raises(TypeError, match="True or False"):
        fastnn.share_blas_threads("yes")  # type: ignore[arg-type]
