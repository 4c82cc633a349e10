"""Weight initialisers with Keras' names and formulas (fan_in, fan_out from the kernel's shape)."""

from __future__ import annotations

from typing import Any, Callable, Sequence, Tuple, Union

import numpy as np

from .utils import get_rng

__all__ = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "zeros", "ones", "random_normal", "random_uniform", "get"]

Shape = Tuple[int, ...]


def _fans(shape: Sequence[int]) -> Tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _uniform(limit: float, shape: Shape) -> np.ndarray:
    return get_rng().uniform(-limit, limit, size=shape).astype(np.float32)


def _truncated_normal(stddev: float, shape: Shape) -> np.ndarray:
    # Keras' variance-scaling normal: truncated at two standard deviations, std corrected by
    # the truncation factor 0.87962566103423978.
    std = stddev / 0.87962566103423978
    out = get_rng().normal(0.0, std, size=shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = get_rng().normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out.astype(np.float32)


def glorot_uniform(shape: Shape) -> np.ndarray:
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    Args:
        shape: the array's shape, a tuple of ints. fan_in and fan_out are its last two axes,
            each times the product of any leading ones; both are ``shape[0]`` for a 1-d shape.

    Returns:
        A float32 array of that shape.
    """
    fan_in, fan_out = _fans(shape)
    return _uniform(np.sqrt(6.0 / max(1, fan_in + fan_out)), shape)


def glorot_normal(shape: Shape) -> np.ndarray:
    """Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)).

    Args:
        shape: the array's shape, a tuple of ints. fan_in and fan_out are its last two axes,
            each times the product of any leading ones; both are ``shape[0]`` for a 1-d shape.

    Returns:
        A float32 array of that shape.
    """
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(np.sqrt(2.0 / max(1, fan_in + fan_out)), shape)


def he_uniform(shape: Shape) -> np.ndarray:
    """Uniform in [-limit, limit], limit = sqrt(6 / fan_in) (He et al., 2015).

    Args:
        shape: the array's shape, a tuple of ints. fan_in is ``shape[-2]`` times the product
            of any leading axes, or ``shape[0]`` for a 1-d shape.

    Returns:
        A float32 array of that shape.
    """
    return _uniform(np.sqrt(6.0 / max(1, _fans(shape)[0])), shape)


def he_normal(shape: Shape) -> np.ndarray:
    """Truncated normal, stddev = sqrt(2 / fan_in).

    Args:
        shape: the array's shape, a tuple of ints. fan_in is ``shape[-2]`` times the product
            of any leading axes, or ``shape[0]`` for a 1-d shape.

    Returns:
        A float32 array of that shape.
    """
    return _truncated_normal(np.sqrt(2.0 / max(1, _fans(shape)[0])), shape)


def lecun_uniform(shape: Shape) -> np.ndarray:
    """Uniform in [-limit, limit], limit = sqrt(3 / fan_in).

    Args:
        shape: the array's shape, a tuple of ints. fan_in is ``shape[-2]`` times the product
            of any leading axes, or ``shape[0]`` for a 1-d shape.

    Returns:
        A float32 array of that shape.
    """
    return _uniform(np.sqrt(3.0 / max(1, _fans(shape)[0])), shape)


def zeros(shape: Shape) -> np.ndarray:
    """float32 zeros (Keras' default for biases).

    Args:
        shape: the array's shape, a tuple of ints.

    Returns:
        A float32 array of that shape.
    """
    return np.zeros(shape, np.float32)


def ones(shape: Shape) -> np.ndarray:
    """float32 ones.

    Args:
        shape: the array's shape, a tuple of ints.

    Returns:
        A float32 array of that shape.
    """
    return np.ones(shape, np.float32)


def random_normal(shape: Shape) -> np.ndarray:
    """Normal with mean 0, stddev 0.05 (Keras' RandomNormal defaults).

    Args:
        shape: the array's shape, a tuple of ints.

    Returns:
        A float32 array of that shape.
    """
    return get_rng().normal(0.0, 0.05, size=shape).astype(np.float32)


def random_uniform(shape: Shape) -> np.ndarray:
    """Uniform in [-0.05, 0.05] (Keras' RandomUniform defaults).

    Args:
        shape: the array's shape, a tuple of ints.

    Returns:
        A float32 array of that shape.
    """
    return _uniform(0.05, shape)


_BY_NAME = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal,
                                    lecun_uniform, zeros, ones, random_normal, random_uniform)}

Initializer = Union[str, Callable[[Shape], Any]]


def get(identifier: Initializer) -> Callable[[Shape], np.ndarray]:
    """An initialiser by name or callable ``f(shape) -> array``.

    Args:
        identifier: the name of one of this module's functions ('glorot_uniform', 'zeros',
            ...), or a callable taking a shape and returning an array-like of that size.

    Returns:
        A function ``shape -> float32 array``; a callable's result is converted to float32
        and reshaped to the shape.

    Raises:
        ValueError: an unknown name; the message lists the valid ones.
    """
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        raise ValueError(f"Unknown initializer: {identifier!r}. "
                         f"Valid initializers: {', '.join(sorted(_BY_NAME))}")
    if callable(identifier):
        return lambda shape: np.asarray(identifier(shape), dtype=np.float32).reshape(shape)
    raise ValueError(f"Unknown initializer: {identifier!r}")
