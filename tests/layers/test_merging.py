"""Merging layers: values against numpy, shapes (broadcasting as Keras), the function forms,
gradients on a tape, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import layers, ops
from fastnn.testing import gradcheck


@pytest.fixture
def xs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3)]


def test_values_match_numpy(xs):
    a, b, c = xs
    np.testing.assert_allclose(np.asarray(layers.Add()(xs)), a + b + c, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.Subtract()([a, b])), a - b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.Multiply()(xs)), a * b * c, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.Average()(xs)), (a + b + c) / 3, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layers.Concatenate()(xs)), np.concatenate(xs, -1))
    np.testing.assert_array_equal(np.asarray(layers.Concatenate(axis=0)([a, b])),
                                  np.concatenate([a, b]))
    np.testing.assert_allclose(np.asarray(layers.add([a, b])), a + b, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layers.concatenate([a, b])),
                                  np.concatenate([a, b], -1))


def test_symbolic_shapes():
    a, b = layers.Input((3,)), layers.Input((1,))
    assert layers.Add()([a, b]).shape == (None, 3)  # broadcasts, as Keras
    assert layers.Concatenate()([a, b, a]).shape == (None, 7)
    assert layers.Concatenate()([a]).shape == (None, 3)
    c, d = layers.Input((2, 3)), layers.Input((4, 3))
    assert layers.Concatenate(axis=1)([c, d]).shape == (None, 6, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        layers.Add()([layers.Input((3,)), layers.Input((4,))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="agree on every other axis"):
        layers.Concatenate()([c, d])
    with pytest.raises(ValueError, match="list of tensors"):
        layers.Add()(a)


@pytest.mark.parametrize("layer", [layers.Add(), layers.Subtract(), layers.Multiply(),
                                   layers.Average(), layers.Concatenate()])
def test_gradients(layer, xs):
    two = xs[:2]
    r = np.random.default_rng(1).standard_normal(np.asarray(layer(two)).shape).astype(np.float32)

    def fn(a, b):
        va, vb = fastnn.Variable(a), fastnn.Variable(b)
        with fastnn.GradientTape() as tape:
            value = ops.sum(ops.multiply(layer([va, vb]), r))
        return float(value), tape.gradient(value, [va, vb])
    gradcheck(fn, two)
