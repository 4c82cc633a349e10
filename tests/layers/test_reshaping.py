"""Flatten and Reshape: values, shapes, configs and errors."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import layers


def test_flatten_and_reshape():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(layers.Flatten()(x)), x.reshape(2, 12))
    np.testing.assert_array_equal(np.asarray(layers.Reshape((4, 3))(x)), x.reshape(2, 4, 3))
    np.testing.assert_array_equal(np.asarray(layers.Reshape((-1, 2))(x)), x.reshape(2, 6, 2))
    t = layers.Input((3, 4))
    assert layers.Flatten()(t).shape == (None, 12)
    assert layers.Reshape((-1, 6))(t).shape == (None, 2, 6)
    assert layers.Reshape((12,)).get_config()["target_shape"] == [12]
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="have 12 values per sample"):
        layers.Reshape((5,))(t)
