"""threadpoolctl sees fastnn's pool and limits it, as it does OpenBLAS's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl", minversion="3.2",
                                    reason="threadpoolctl >= 3.2 (which has register()) is not "
                                    "installed: pip install threadpoolctl")

import fastnn  # noqa: E402


def _fastnn_entries():
    return [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastnn"]


def test_threadpool_info_lists_fastnn_once():
    entries = _fastnn_entries()
    assert len(entries) == 1, entries
    info = entries[0]
    assert info["internal_api"] == "fastnn" and info["version"] == fastnn.__version__
    assert info["num_threads"] == fastnn.get_num_threads()
    assert "fastnn" in info["filepath"]


def test_threadpool_limits_runs_a_matmul_on_one_thread(restore_threads, rng):
    fastnn.set_num_threads(2)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 100)).astype(np.float32)
    two = fastnn.ops.matmul(a, b)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fastnn.get_num_threads() == 1
        assert _fastnn_entries()[0]["num_threads"] == 1
        one = fastnn.ops.matmul(a, b)
    assert fastnn.get_num_threads() == 2, "the limit is lifted on leaving the block"
    np.testing.assert_allclose(one, a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(one, two)  # the split over threads does not change the bits
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert fastnn.get_num_threads() == 2, "a BLAS-only limit leaves fastnn alone"
    controller = threadpoolctl.ThreadpoolController()
    with controller.limit(limits=1, user_api="fastnn"):
        assert fastnn.get_num_threads() == 1


@pytest.mark.parametrize("first", ["threadpoolctl", "fastnn"])
def test_registered_whichever_is_imported_first(first):
    second = "fastnn" if first == "threadpoolctl" else "threadpoolctl"
    code = (f"import {first}, {second}, inspect\n"
            "from threadpoolctl import threadpool_info\n"
            "apis = [i['user_api'] for i in threadpool_info()]\n"
            "assert apis.count('fastnn') == 1, apis\n"
            "assert 'threadpool_limits' in inspect.getsource(threadpoolctl)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_fastnn_does_not_import_threadpoolctl():
    code = "import sys, fastnn; fastnn.ops.matmul; assert 'threadpoolctl' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
