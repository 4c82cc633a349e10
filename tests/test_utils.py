"""utils: one-hot labels as Keras' to_categorical, and the global seed."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.utils import get_rng, set_random_seed, to_categorical


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3, dtype=np.float32)[[0, 2, 1]])
    assert to_categorical([1, 0], num_classes=4).shape == (2, 4)
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])


def test_set_random_seed_repeats_the_draws():
    set_random_seed(5)
    a = get_rng().random(3)
    set_random_seed(5)
    np.testing.assert_array_equal(a, get_rng().random(3))
