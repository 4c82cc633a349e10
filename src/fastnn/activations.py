"""Activation functions by name or function, with the backward pass each needs.

Each backward takes the activation's *output* y: relu' = (y > 0) (0 at exactly 0, as Keras and
TensorFlow), sigmoid' = y (1 - y), tanh' = 1 - y^2, and softmax's Jacobian-vector product
y * (g - sum(g * y)) — so a layer keeps only its output, never the pre-activation.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from . import ops

__all__ = ["relu", "sigmoid", "tanh", "softmax", "linear", "get", "serialize"]


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


def linear(x: Any) -> np.ndarray:
    """The identity (no activation).

    Args:
        x: anything ``np.asarray`` takes.

    Returns:
        ``x`` as a float32 array (no copy when it already is one).
    """
    return np.asarray(x, dtype=np.float32)


_BY_NAME = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "linear": linear}
_ALIASES = {ops.relu: "relu", ops.sigmoid: "sigmoid", ops.tanh: "tanh", ops.softmax: "softmax"}


def get(identifier: Union[None, str, Callable[..., Any]]) -> str:
    """The canonical name of an activation given by name, by function or None (linear).

    Args:
        identifier: None, a name ('relu', 'sigmoid', 'tanh', 'softmax', 'linear'), one of
            this module's functions, or fastnn.ops' relu, sigmoid, tanh or softmax.

    Returns:
        The name, a str.

    Raises:
        ValueError: an unknown name or function; the message lists the valid names.
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
    raise ValueError(f"Unknown activation: {identifier!r}. "
                     f"Valid activations: {', '.join(sorted(_BY_NAME))}")


def serialize(name: str) -> str:
    """The name under which a model file stores the activation ``name``.

    Args:
        name: a canonical activation name, as ``get`` returns.

    Returns:
        The same name.
    """
    return name


def forward(name: str, z: np.ndarray) -> np.ndarray:
    """The activation of z, in place (z is a scratch buffer of the layer)."""
    if name == "relu":
        return ops.relu(z, out=z)
    if name == "sigmoid":
        return ops.sigmoid(z, out=z)
    if name == "tanh":
        return ops.tanh(z, out=z)
    if name == "softmax":
        return ops.softmax(z, out=z)
    return z


def backward(name: str, grad: np.ndarray, y: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """dLoss/dz from dLoss/dy and the activation's output y."""
    if name == "relu":
        return ops.relu_grad(grad, y, out=out)
    if name == "sigmoid":
        return ops.sigmoid_grad(grad, y, out=out)
    if name == "tanh":
        return ops.tanh_grad(grad, y, out=out)
    if name == "softmax":
        gy = ops.multiply(grad, y, out=out)
        dot = ops.sum(gy, axis=-1, keepdims=True)
        # y * (g - <g, y>) = g*y - y*<g, y>
        return ops.subtract(gy, ops.multiply(y, dot), out=gy)
    if out is None:
        return grad
    np.copyto(out, grad)
    return out
