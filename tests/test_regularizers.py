"""Regularizers: Keras' penalties, their configs, and their gradients on a tape."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import regularizers
from fastnn.testing import gradcheck


@pytest.mark.parametrize("reg", [regularizers.l1(0.03), regularizers.l2(0.05),
                                 regularizers.l1_l2(0.02, 0.04)])
def test_penalty_and_its_gradient(reg):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    w = np.where(np.abs(w) < 0.2, 0.2, w).astype(np.float32)  # |w| has a kink at 0
    np.testing.assert_allclose(float(reg(w)), reg.l1 * np.abs(w).sum() + reg.l2 * (w ** 2).sum(),
                               rtol=1e-5)

    def fn(v):
        var = fastnn.Variable(v)
        with fastnn.GradientTape() as tape:
            value = reg(var)
        return float(value), [tape.gradient(value, var)]
    gradcheck(fn, [w], eps=1e-3)


def test_names_configs_and_errors():
    assert regularizers.get("l2").get_config() == {"l1": 0.0, "l2": 0.01}
    assert regularizers.get({"l1": 0.5}).l1 == 0.5
    assert regularizers.get(None) is None
    with pytest.raises(ValueError, match="Valid regularizers"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match=">= 0"):
        regularizers.L1L2(l1=-1)
    with pytest.raises(NotImplementedError):
        regularizers.Regularizer()(np.ones(2))
