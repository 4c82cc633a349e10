"""Small helpers from Keras: one-hot labels and a global random seed."""

from __future__ import annotations

import os
import random
from typing import Any, Optional

import numpy as np

__all__ = ["to_categorical", "set_random_seed", "get_rng"]

_rng = np.random.default_rng()


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: Any = "float32") -> np.ndarray:
    """Integer class labels to one-hot rows, like ``keras.utils.to_categorical``.

    Args:
        y: integer labels of any shape (a trailing axis of size 1 is dropped, as in Keras).
        num_classes: number of classes; default ``max(y) + 1``.
        dtype: dtype of the result (float32 by default).

    Returns:
        An array of shape ``y.shape + (num_classes,)``.

    Raises:
        ValueError: negative labels, labels >= num_classes, or non-integral values.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical expects integer class labels; received non-integral values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical expects integer class labels; received dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0; received {int(y.min())}")
    top = int(y.max()) + 1 if y.size else 0
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"to_categorical: label {top - 1} is out of range for "
                         f"num_classes={num_classes}")
    try:
        out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    except (ValueError, MemoryError):
        raise ValueError(f"to_categorical: {y.size} labels of {num_classes} classes do not fit in "
                         f"memory (labels go up to {top - 1})") from None
    np.put_along_axis(out, y[..., None].astype(np.int64), 1, axis=-1)
    return out


def set_random_seed(seed: int) -> None:
    """Seeds every source of randomness fastnn uses (and Python's and numpy's global ones), so
    that weight initialisation, shuffling and dropout repeat exactly.

    Args:
        seed: a non-negative integer (anything ``int()`` takes).

    Raises:
        ValueError: a negative seed.
    """
    global _rng
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator behind fastnn's initialisers, shuffling and dropout."""
    return _rng


def _after_fork_in_child() -> None:
    # numpy guards a generator with a lock; a fork while another thread drew from it (a fit's
    # shuffle) leaves the child's copy locked for ever. The child continues the same stream,
    # as it would had the lock been free, from a fresh generator.
    global _rng
    fresh = type(_rng.bit_generator)()
    fresh.state = _rng.bit_generator.state
    _rng = np.random.Generator(fresh)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
