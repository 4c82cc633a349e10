"""A wide dense input that is mostly zeros (the book's multi-hot reviews) trains through its first
layer as sparse rows, batch by batch: the same bits as the CSR matrix of the same data, close to
the dense arithmetic of the op-by-op path, any thread count, and dense again where a batch is
not sparse enough."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import layers, models
from fastnn.utils import set_random_seed

WIDE = 2048  # at least the width from which a dense input may run as sparse rows


def multi_hot(n, d=WIDE, density=0.03, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, d)) < density).astype(np.float32)
    y = (x[:, :60].sum(axis=1) >= 2).astype(np.float32)
    return x, y


def fit(x, y, eager=False, threads=None, epochs=2, **extra):
    set_random_seed(7)
    model = models.Sequential([layers.Input((x.shape[1],)), layers.Dense(16, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"], run_eagerly=eager)
    history = model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, **extra)
    return model, history.history


def test_a_mostly_zero_dense_input_trains_as_its_csr_matrix_does():
    sp = pytest.importorskip("scipy.sparse", reason="the CSR comparison needs scipy")
    x, y = multi_hot(500)
    dense_model, dense_hist = fit(x, y)
    csr_model, csr_hist = fit(sp.csr_matrix(x), y)
    assert dense_hist == csr_hist
    for a, b in zip(dense_model.get_weights(), csr_model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("density", [0.02, 0.5])
def test_compiled_steps_match_the_dense_op_by_op_path(density):
    x, y = multi_hot(400, density=density)
    x[::7] *= 2.5  # not only ones
    x[3, 5] = -0.0
    compiled, h1 = fit(x, y)
    eager, h2 = fit(x, y, eager=True)
    assert compiled.execution_plan()["fit"].startswith("compiled")
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_batches_on_both_sides_of_the_density_limit():
    sparse_rows, y1 = multi_hot(256, density=0.01, seed=1)
    dense_rows, y2 = multi_hot(256, density=0.6, seed=2)
    x, y = np.concatenate([sparse_rows, dense_rows]), np.concatenate([y1, y2])
    compiled, h1 = fit(x, y, shuffle=False)
    eager, h2 = fit(x, y, eager=True, shuffle=False)
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_the_same_bits_for_any_thread_count(restore_threads):
    x, y = multi_hot(700)
    runs = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        model, hist = fit(x, y)
        runs.append((hist, model.get_weights()))
    for hist, weights in runs[1:]:
        assert hist == runs[0][0]
        for a, b in zip(weights, runs[0][1]):
            np.testing.assert_array_equal(a, b)


def test_non_finite_inputs_stay_non_finite():
    x, y = multi_hot(128)
    x[10, 100] = np.nan
    x[20, 200] = np.inf
    for eager in (False, True):
        set_random_seed(3)
        model = models.Sequential([layers.Input((WIDE,)), layers.Dense(4),
                                   layers.Dense(1, activation="sigmoid")])
        model.compile("rmsprop", "binary_crossentropy", run_eagerly=eager)
        assert not np.isfinite(model.evaluate(x, y, batch_size=32, verbose=0))
        assert np.isfinite(model.evaluate(x[32:], y[32:], batch_size=32, verbose=0))
