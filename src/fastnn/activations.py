"""Activation functions by name or function, as Keras names them. Each is a fastnn op, so a
GradientTape differentiates it (relu's gradient at exactly 0 is 0, as in Keras and TensorFlow).
"""

from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np
from numpy.typing import ArrayLike

from . import ops
from .autograd import Tensor

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "get", "apply", "serialize"]


def relu(x: ArrayLike) -> np.ndarray:
    """max(x, 0).

    Args:
        x: array of real numbers (or a Tensor, which gives a Tensor).

    Returns:
        A float32 array of ``x``'s shape.

    Raises:
        TypeError: non-numeric input.
    """
    return ops.relu(x)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """1 / (1 + exp(-x)), computed stably.

    Args:
        x: array of real numbers (or a Tensor, which gives a Tensor).

    Returns:
        A float32 array of ``x``'s shape.

    Raises:
        TypeError: non-numeric input.
    """
    return ops.sigmoid(x)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent.

    Args:
        x: array of real numbers (or a Tensor, which gives a Tensor).

    Returns:
        A float32 array of ``x``'s shape.

    Raises:
        TypeError: non-numeric input.
    """
    return ops.tanh(x)


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along ``axis``, computed stably.

    Args:
        x: array of real numbers of at least 1 dimension (or a Tensor, which gives a Tensor).
        axis: the axis to normalise along. Defaults to -1, the last.

    Returns:
        float32 probabilities of ``x``'s shape.

    Raises:
        ValueError: a 0-d ``x`` or an axis out of bounds.
        TypeError: non-numeric input.
    """
    return ops.softmax(x, axis=axis)


def linear(x: Any) -> Any:
    """The identity (no activation).

    Args:
        x: an array or a Tensor.

    Returns:
        ``x`` itself (a Tensor stays a Tensor), or a float32 array for anything else.
    """
    if isinstance(x, (np.ndarray, Tensor)) and x.dtype == np.float32:
        return x
    return np.asarray(x, dtype=np.float32)


_BY_NAME = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "linear": linear}
_ALIASES = {ops.relu: "relu", ops.sigmoid: "sigmoid", ops.tanh: "tanh", ops.softmax: "softmax"}


def get(identifier: Union[None, str, Callable[..., Any]]) -> Union[str, Callable[..., Any]]:
    """The canonical name of a built-in activation given by name, by function or None (linear);
    any other callable is returned as it is (a custom activation, written with fastnn.ops).

    Args:
        identifier: None, a name ('relu', 'sigmoid', 'tanh', 'softmax', 'linear'), one of
            this module's functions, fastnn.ops' relu, sigmoid, tanh or softmax, or a callable
            ``f(x)``.

    Returns:
        The name, a str, or the custom callable.

    Raises:
        ValueError: an unknown name, or something that is neither a name nor callable; the
            message lists the valid names.
    """
    if identifier is None:
        return "linear"
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return identifier
    elif callable(identifier):
        for name, fn in _BY_NAME.items():
            if identifier is fn:
                return name
        if identifier in _ALIASES:
            return _ALIASES[identifier]
        return identifier
    raise ValueError(f"Unknown activation: {identifier!r}. "
                     f"Valid activations: {', '.join(sorted(_BY_NAME))}")


def apply(activation: Union[str, Callable[..., Any]], x: Any) -> Any:
    """``activation(x)`` for a name that ``get`` returned, or a custom callable.

    Args:
        activation: a built-in activation's name, or a callable.
        x: an array or a Tensor.

    Returns:
        The activation of x (a Tensor for a Tensor).
    """
    if callable(activation):
        return activation(x)
    if activation == "linear":
        return x
    return _BY_NAME[activation](x)


def serialize(activation: Union[str, Callable[..., Any]]) -> str:
    """The name under which a model file stores an activation.

    Args:
        activation: a canonical activation name or a custom callable, as ``get`` returns.

    Returns:
        The name; a custom callable's ``__name__`` (loading it needs ``custom_objects``).
    """
    return activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
