"""The benchmarks' own correctness: the numpy reference does fastnn's math, the FLOP count, the
peak measurement, and a short run of each benchmark (timings are printed, never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from fastnn import _C, layers, models, optimizers
from fastnn.bench.numpy_mlp import NumpyMLP
from fastnn.bench.train import gemm_flops_per_sample


@pytest.mark.parametrize("loss, out, act", [("sparse_categorical_crossentropy", 5, "softmax"),
                                            ("binary_crossentropy", 1, "sigmoid"),
                                            ("mse", 1, None)])
def test_numpy_reference_takes_the_same_steps_as_fastnn(loss, out, act):
    rng = np.random.default_rng(0)
    x = rng.random((300, 20), dtype=np.float32)
    y = rng.integers(0, 5, 300) if out > 1 else \
        rng.integers(0, 2, 300).astype(np.float32) if act else rng.standard_normal(300)
    ref = NumpyMLP([20, 16, out], seed=3, loss=loss)
    model = models.Sequential([layers.Input((20,)), layers.Dense(16, activation="relu"),
                               layers.Dense(out, activation=act)])
    model.compile(optimizers.RMSprop(), loss)
    model.set_weights(ref.params)
    for start in range(0, 300, 64):
        rows = slice(start, start + 64)
        ref_loss = ref.train_step(x[rows], y[rows])
        history = model.fit(x[rows], y[rows], batch_size=64, epochs=1, shuffle=False, verbose=0)
        assert abs(history.history["loss"][0] - ref_loss) < 1e-5
    for a, b in zip(model.get_weights(), ref.params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if out > 1:
        assert abs(ref.accuracy(x, y) - np.mean(model.predict(x).argmax(1) == y)) < 1e-9


def test_flops_of_the_books_mlp():
    # forward 2*(784*512 + 512*10), weight gradients the same, input gradient of layer 2 only
    assert gemm_flops_per_sample([784, 512, 10]) == 2 * (2 * (784 * 512 + 512 * 10) + 512 * 10)
    assert abs(gemm_flops_per_sample([784, 512, 10]) * 60000 / 1e9 - 98.2) < 0.05


def test_peak_measurement_is_plausible():
    peak = _C.measure_peak_flops(0.05)
    assert np.isfinite(peak) and 1e9 < peak < 1e13  # anything from an old laptop to a server


def run(*args):
    env = dict(os.environ, FASTNN_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_train_benchmark_runs():
    out = run("fastnn.bench.train", "--epochs", "2", "--train-size", "1000", "--threads", "1",
              "--no-torch", "--unfused", "--functional", "--hidden", "32", "--predict")
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in out.splitlines()
            if line.startswith("| ") and "library" not in line}
    assert set(rows) == {"fastnn", "fastnn functional", "fastnn op by op", "numpy"}
    # the same seed and batches: the compiled and op-by-op paths, and the Sequential and
    # functional models, agree on test accuracy
    assert rows["fastnn"][2].strip() == rows["fastnn op by op"][2].strip()
    assert rows["fastnn"][2].strip() == rows["fastnn functional"][2].strip()
    assert "predict on" in out


def test_ops_benchmark_runs():
    out = run("fastnn.bench.ops", "--quick", "--threads", "1", "--samples", "1", "--only", "elementwise")
    assert "softmax_xent (128,10)" in out


def test_sparse_benchmark_runs():
    pytest.importorskip("scipy", reason="the sparse benchmark needs scipy (fastnn[scipy])")
    out = run("fastnn.bench.sparse", "--rows", "600", "--cols", "300", "--nnz", "20",
              "--epochs", "2", "--rounds", "1", "--threads", "1")
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in out.splitlines()
            if line.startswith("| ") and "input" not in line}
    assert set(rows) == {"dense", "csr"}
    # the same data, seed and batches from CSR and from the dense array: the same losses
    losses = [[float(v) for v in rows[k][3].split(",")] for k in ("dense", "csr")]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    assert "plan: compiled" in out


def test_cases_benchmark_runs():
    out = run("fastnn.bench.cases", "--quick", "--threads", "1", "--no-torch", "--samples", "1",
              "--only", "boston", "predict", "mixed")
    assert out.startswith("CPU: ") and "peak:" in out and "caches" in out
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in out.splitlines()
            if line.startswith("| ") and "---" not in line}
    assert "Boston b16" in rows and "predict 1 row" in rows and "predict 32 rows" in rows
    assert "(128x784).(784x512)" in rows and "(128x10).(10x512)^T" in rows
