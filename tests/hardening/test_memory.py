"""Memory stays flat over many calls."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn
from fastnn import ops, optimizers


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
@pytest.mark.skipif("-fsanitize=" in fastnn._C.base_flags,
                    reason="under AddressSanitizer, RSS counts its quarantine of freed memory (up "
                           "to 256 MB, filled by whatever ran before), not what fastnn keeps")
def test_no_memory_growth_over_many_calls(blobs, mlp):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((16, 16)).astype(np.float32)
    out = np.empty_like(a)
    x, y = blobs(128, 20, 4)

    def op_calls(n):
        for _ in range(n):
            ops.add(a, a, out=out)
            ops.matmul(a, a, out=out)
            ops.softmax_cross_entropy(a, np.arange(16) % 16)
            ops.relu(a)

    def fits(n):
        for _ in range(n):
            model = mlp()
            model.compile(optimizers.RMSprop(), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
            model.predict(x)

    op_calls(2000)  # warm up: allocator pools, scratch buffers
    fits(5)
    before = rss_mb()
    op_calls(25_000)  # x 4 ops = 100,000 calls
    fits(50)
    grown = rss_mb() - before
    assert grown < 16, f"RSS grew by {grown:.1f} MB over 100,000 op calls and 50 fits"
    assert fastnn.get_num_threads() >= 1
