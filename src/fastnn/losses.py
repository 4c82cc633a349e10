"""Losses with Keras' names and formulas. Each takes ``(y_true, y_pred)`` and returns one value
per sample; a model minimises their mean over the batch.

During training, softmax followed by categorical (or sparse categorical) cross-entropy runs as
one fused kernel on the logits — loss = logsumexp(z) - z_y, gradient (softmax(z) - y) / n —
and sigmoid followed by binary cross-entropy uses its stable form on the logits,
max(z, 0) - z*y + log(1 + exp(-|z|)), gradient (sigmoid(z) - y) / n.

The same holds for a Tensor that ``ops.softmax`` or ``ops.sigmoid`` made (a model's output, on a
GradientTape or not): its cross-entropy is computed from the logits (as Keras does with a softmax
or sigmoid output), so a saturated output still gets its gradient, where clipped probabilities
would give zero.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple, Union

import numpy as np

from . import ops
from .autograd import Tensor

__all__ = ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy",
           "mean_squared_error", "mse", "mean_absolute_error", "mae", "get", "get_function",
           "valid_names"]

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _prediction(y_pred: Any) -> Any:
    """y_pred as float32; a Tensor stays one, so that a GradientTape differentiates the loss."""
    return y_pred if isinstance(y_pred, Tensor) else _f32(y_pred)


def _clip(p: Any) -> Any:
    return ops.minimum(ops.maximum(p, EPSILON), 1.0 - EPSILON)


def _check_same_shape(y_true: Any, y_pred: Any, name: str) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape; received "
                         f"{y_true.shape} and {y_pred.shape}")


def sparse_labels(y_true: Any, n: int, k: int) -> np.ndarray:
    """Integer class indices of shape (n,) from (n,) or (n, 1), checked to lie in [0, k)."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ValueError(f"sparse labels must have shape ({n},) to match predictions of shape "
                         f"({n}, {k}); received {np.asarray(y_true).shape}")
    if y.dtype.kind == "f":
        if np.any(y != np.round(y)):
            raise ValueError("sparse labels must be integer class indices; received non-integral values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise TypeError(f"sparse labels must be integers; received dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= k):
        bad = int(np.flatnonzero((y < 0) | (y >= k))[0])
        raise ValueError(f"label {int(y[bad])} at index {bad} is out of range [0, {k})")
    return y.astype(np.int64, copy=False)


def _aligned(y_true: Any, y_pred: Any, name: str) -> Tuple[np.ndarray, Any]:
    """float32 (y_true, y_pred) of one shape; targets of shape (n,) meet predictions (n, 1)."""
    y_true, y_pred = _f32(y_true), _prediction(y_pred)
    if y_true.shape != y_pred.shape and y_true.shape == y_pred.shape[:-1] and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    _check_same_shape(y_true, y_pred, name)
    return y_true, y_pred


# Each loss below is written with fastnn.ops, so the same code computes it on arrays and, on a
# Tensor of predictions, records it for a GradientTape.

def _logits(y_pred: Any, activation: str) -> Any:
    """The logits behind a Tensor that ops.softmax (rows of a 2-d array) or ops.sigmoid made
    (``activation``), else None."""
    logits = y_pred._logits if isinstance(y_pred, Tensor) else None
    if logits is not None and logits[0] == activation:
        return logits[1]
    return None


def categorical_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """-sum(y_true * log(y_pred)) over the last axis; y_pred are probabilities (rows are
    renormalised and clipped to [1e-7, 1 - 1e-7], as Keras does).

    Args:
        y_true: one-hot (or probability) rows, shape (..., k).
        y_pred: predicted probabilities of the same shape, an array or a Tensor (on a
            GradientTape, a Tensor from ``ops.softmax`` is scored from its logits).

    Returns:
        float32 losses, one per sample, of shape ``y_pred.shape[:-1]``; a Tensor when
        ``y_pred`` is one.

    Raises:
        ValueError: y_true and y_pred of different shapes.
    """
    y_true, y_pred = _f32(y_true), _prediction(y_pred)
    _check_same_shape(y_true, y_pred, "categorical_crossentropy")
    logits = _logits(y_pred, "softmax")
    if logits is not None:
        return ops.softmax_cross_entropy(logits, y_true, reduction="none")[0]
    p = _clip(ops.divide(y_pred, ops.sum(y_pred, axis=-1, keepdims=True)))
    return ops.multiply(ops.sum(ops.multiply(y_true, ops.log(p)), axis=-1), -1.0)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """-log(y_pred[label]) with integer labels; y_pred rows are probabilities (renormalised and
    clipped like ``categorical_crossentropy``'s).

    Args:
        y_true: integer class indices in [0, k), shape (n,) or (n, 1); integral floats are
            accepted.
        y_pred: predicted probabilities of shape (n, k), an array or a Tensor.

    Returns:
        float32 losses of shape (n,); a Tensor when ``y_pred`` is one.

    Raises:
        ValueError: y_pred not 2-d; labels of the wrong shape, non-integral or out of range
            (the first bad label and its index are named).
        TypeError: labels that are not numbers.
    """
    y_pred = _prediction(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"sparse_categorical_crossentropy expects y_pred of shape (n, k); "
                         f"received {y_pred.shape}")
    labels = sparse_labels(y_true, *y_pred.shape)
    logits = _logits(y_pred, "softmax")
    if logits is not None:
        return ops.softmax_cross_entropy(logits, labels, reduction="none")[0]
    one_hot = np.zeros(y_pred.shape, np.float32)
    one_hot[np.arange(len(labels)), labels] = 1.0
    return categorical_crossentropy(one_hot, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """-mean(y log p + (1 - y) log(1 - p)) over the last axis, p clipped to [1e-7, 1 - 1e-7].

    Args:
        y_true: targets in [0, 1] (usually 0 or 1), of y_pred's shape; shape (n,) goes with
            y_pred of shape (n, 1).
        y_pred: predicted probabilities, an array or a Tensor (a Tensor from ``ops.sigmoid`` is
            scored from its logits).

    Returns:
        float32 losses of shape ``y_pred.shape[:-1]``; a Tensor when ``y_pred`` is one.

    Raises:
        ValueError: shapes that differ (other than (n,) against (n, 1)).
    """
    y_true, y_pred = _aligned(y_true, y_pred, "binary_crossentropy")
    logits = _logits(y_pred, "sigmoid")
    if logits is not None:
        return ops.mean(ops.sigmoid_cross_entropy(logits, y_true), axis=-1)
    p = _clip(y_pred)
    terms = ops.add(ops.multiply(y_true, ops.log(p)),
                    ops.multiply(ops.subtract(1.0, y_true), ops.log(ops.subtract(1.0, p))))
    return ops.multiply(ops.mean(terms, axis=-1), -1.0)


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """mean((y_pred - y_true)^2) over the last axis.

    Args:
        y_true: targets of y_pred's shape; shape (n,) goes with y_pred of shape (n, 1).
        y_pred: predictions, an array or a Tensor.

    Returns:
        float32 losses of shape ``y_pred.shape[:-1]``; a Tensor when ``y_pred`` is one.

    Raises:
        ValueError: shapes that differ (other than (n,) against (n, 1)).
    """
    y_true, y_pred = _aligned(y_true, y_pred, "mean_squared_error")
    d = ops.subtract(y_pred, y_true)
    return ops.mean(ops.multiply(d, d), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """mean(|y_pred - y_true|) over the last axis (on a tape, the gradient of |d| at d == 0 is 0,
    as Keras takes it).

    Args:
        y_true: targets of y_pred's shape; shape (n,) goes with y_pred of shape (n, 1).
        y_pred: predictions, an array or a Tensor.

    Returns:
        float32 losses of shape ``y_pred.shape[:-1]``; a Tensor when ``y_pred`` is one.

    Raises:
        ValueError: shapes that differ (other than (n,) against (n, 1)).
    """
    y_true, y_pred = _aligned(y_true, y_pred, "mean_absolute_error")
    d = ops.subtract(y_pred, y_true)
    return ops.mean(ops.abs(d), axis=-1)


mse = mean_squared_error
mae = mean_absolute_error

_BY_NAME: Dict[str, Callable[..., np.ndarray]] = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
}


def get(identifier: Union[str, Callable[..., Any]]) -> Union[str, Callable[..., Any]]:
    """The canonical name of a built-in loss given by name or function; any other callable
    ``f(y_true, y_pred)`` (one value per sample, written with fastnn.ops) is returned as it is.

    Args:
        identifier: a name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
            'binary_crossentropy', 'mean_squared_error' or 'mse', 'mean_absolute_error' or
            'mae'), one of this module's functions, or your own function.

    Returns:
        The function's name, e.g. 'mean_squared_error' for 'mse', or the custom callable.

    Raises:
        ValueError: an unknown name, or something that is not callable; the message lists the
            valid names.
    """
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier].__name__
    for fn in _BY_NAME.values():
        if identifier is fn:
            return fn.__name__
    if callable(identifier) and not isinstance(identifier, str):
        return identifier
    raise ValueError(f"Unknown loss: {identifier!r}. Valid losses: {valid_names()}")


def get_function(identifier: Union[str, Callable[..., Any]]) -> Callable[..., Any]:
    """The loss function for what ``get`` accepts.

    Args:
        identifier: a built-in loss's name, or a function.

    Returns:
        The function ``f(y_true, y_pred)``.

    Raises:
        ValueError: an unknown name.
    """
    resolved = get(identifier)
    return _BY_NAME[resolved] if isinstance(resolved, str) else resolved


def valid_names() -> str:
    """The built-in losses' names, comma-separated (for messages)."""
    return ", ".join(sorted(_BY_NAME))
