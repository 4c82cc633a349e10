"""Shared fixtures: a seeded RNG and thread-count restoration."""

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
