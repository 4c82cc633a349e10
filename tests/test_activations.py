"""Activations: names, custom functions, and gradients on a tape (relu's at 0 is 0)."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import activations, ops
from fastnn.testing import gradcheck


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "linear"])
def test_every_activation_gradient(name):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 6)).astype(np.float32)
    z = np.where(np.abs(z) < 0.1, 0.1, z).astype(np.float32)
    r = rng.standard_normal((4, 6)).astype(np.float32)

    def fn(v):
        var = fastnn.Variable(v)
        with fastnn.GradientTape() as tape:
            value = ops.sum(ops.multiply(activations.apply(name, var), r))
        return float(value), [tape.gradient(value, var)]
    gradcheck(fn, [z])


def test_names_functions_and_custom_callables():
    assert activations.get(None) == "linear"
    assert activations.get(ops.relu) == "relu" and activations.get(activations.tanh) == "tanh"

    def swish(x):
        return ops.multiply(x, ops.sigmoid(x))
    assert activations.get(swish) is swish
    assert activations.serialize(swish) == "swish"
    np.testing.assert_allclose(activations.apply(swish, np.array([1.0])), [1 / (1 + np.exp(-1))],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="Valid activations"):
        activations.get("swishy")
    x = fastnn.Variable([[0.0, 1.0]])
    with fastnn.GradientTape() as tape:
        y = ops.sum(activations.relu(x))
    np.testing.assert_array_equal(tape.gradient(y, x), [[0.0, 1.0]])
