"""Shared fixtures: a seeded RNG, thread-count restoration and a small learnable dataset."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def restore_threads():
    """Lets a test change the thread count; puts the original back afterwards."""
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(before)


def make_blobs(n=300, d=8, k=3, seed=0):
    """(x, labels): Gaussian clusters around k random centres, a problem every optimizer should
    learn."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32), y


@pytest.fixture
def blobs():
    """``make_blobs``, the function: call it with the sizes a test needs."""
    return make_blobs


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """HOME is an empty folder, $FASTNN_DATA is unset and every download fails as offline: no
    test sees the real ~/.fastnn, ~/.keras or $FASTNN_DATA, or touches the network."""
    import urllib.error

    from fastnn.datasets import _files

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(_files.urllib.request, "urlopen", offline)
    return tmp_path / "home"


def _run_in_threads(target, args_per_thread, timeout):
    """Runs target(*args) on one thread per entry of args_per_thread, all at once; fails if any
    is still running after timeout seconds each (a hang)."""
    import threading

    threads = [threading.Thread(target=target, args=args) for args in args_per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"


@pytest.fixture
def run_in_threads():
    """The helper above, for tests that start threads and must not hang."""
    return _run_in_threads
