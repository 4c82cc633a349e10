"""Losses: Keras' formulas against numpy, the logits they use for softmax and sigmoid outputs,
names, and their gradients on a GradientTape against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import losses, ops
from fastnn.testing import gradcheck
from fastnn.utils import to_categorical


def probabilities(rng, n, k):
    e = np.exp(rng.standard_normal((n, k)))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def test_formulas_match_numpy():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    y = to_categorical(rng.integers(0, 4, 6), 4)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p), -(y * np.log(p)).sum(-1), rtol=1e-5)
    labels = y.argmax(-1)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p),
                               -np.log(p[np.arange(6), labels]), rtol=1e-5)
    q = rng.uniform(0.05, 0.95, (6, 2)).astype(np.float32)
    t = rng.integers(0, 2, (6, 2)).astype(np.float32)
    np.testing.assert_allclose(losses.binary_crossentropy(t, q),
                               -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(-1), rtol=1e-5)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(losses.mse(a, b), ((a - b) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(losses.mae(a, b), np.abs(a - b).mean(-1), rtol=1e-5)


def test_names_and_custom_functions():
    assert losses.get("mse") == "mean_squared_error"
    assert losses.get(losses.mae) == "mean_absolute_error"

    def mine(y_true, y_pred):
        return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)
    assert losses.get(mine) is mine and losses.get_function(mine) is mine
    assert losses.get_function("binary_crossentropy") is losses.binary_crossentropy
    with pytest.raises(ValueError, match="Valid losses"):
        losses.get("hinge_loss_of_doom")
    p = probabilities(np.random.default_rng(1), 6, 4)
    with pytest.raises(ValueError, match=r"label 7 at index 1 is out of range \[0, 4\)"):
        losses.sparse_categorical_crossentropy([0, 7, 1, 1, 1, 1], p)


def test_softmax_and_sigmoid_outputs_are_scored_from_their_logits():
    """Saturated outputs: clipped probabilities would give a wrong loss and no gradient."""
    z = fastnn.Variable([[40.0, 0.0, -40.0], [0.0, 0.0, 0.0]])
    with fastnn.GradientTape() as tape:
        loss = ops.mean(losses.sparse_categorical_crossentropy([2, 0], ops.softmax(z)))
    np.testing.assert_allclose(float(loss), (80.0 + np.log(3)) / 2, rtol=1e-5)  # not -log(1e-7)
    assert np.abs(tape.gradient(loss, z)).max() > 0.4
    s = fastnn.Variable([[30.0], [-30.0]])
    with fastnn.GradientTape() as tape:
        loss = ops.mean(losses.binary_crossentropy(np.array([0.0, 1.0]), ops.sigmoid(s)))
    np.testing.assert_allclose(float(loss), 30.0, rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, s), [[0.5], [-0.5]], rtol=1e-5)


def tape_fn(loss, y_true):
    """value and d value / d y_pred of mean(loss(y_true, y_pred)), from a GradientTape."""
    def fn(p):
        v = fastnn.Variable(p)
        with fastnn.GradientTape() as tape:
            value = ops.mean(loss(y_true, v))
        return float(value), [tape.gradient(value, v)]
    return fn


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error", "mean_absolute_error"])
def test_every_loss_gradient(name):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 6)
    if name == "categorical_crossentropy":
        y_true, y_pred = to_categorical(labels, 4), probabilities(rng, 6, 4)
    elif name == "sparse_categorical_crossentropy":
        y_true, y_pred = labels, probabilities(rng, 6, 4)
    elif name == "binary_crossentropy":
        y_true = rng.integers(0, 2, (6, 3)).astype(np.float32)
        y_pred = rng.uniform(0.2, 0.8, (6, 3)).astype(np.float32)
    else:
        y_true = rng.standard_normal((6, 3)).astype(np.float32)
        offset = rng.standard_normal((6, 3)).astype(np.float32)
        y_pred = (y_true + np.where(np.abs(offset) < 0.2, 0.2, offset)).astype(np.float32)
    gradcheck(tape_fn(losses.get_function(name), y_true), [y_pred], eps=1e-3)


def test_fused_cross_entropies():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 7)
    gradcheck(lambda v: ops.softmax_cross_entropy(v, labels), [z])
    soft = probabilities(rng, 7, 5)
    gradcheck(lambda v: ops.softmax_cross_entropy(v, soft), [z])
    t = rng.integers(0, 2, (7, 5)).astype(np.float32)

    def bce(v):
        var = fastnn.Variable(v)
        with fastnn.GradientTape() as tape:
            value = ops.sum(ops.sigmoid_cross_entropy(var, t))
        return float(value), [tape.gradient(value, var)]
    gradcheck(bce, [z])
    expected = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    np.testing.assert_allclose(ops.sigmoid_cross_entropy(z, t), expected, rtol=1e-6)
