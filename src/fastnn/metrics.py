"""Metrics with Keras' names: accuracy (categorical, sparse or binary, chosen like Keras), mae,
mse. Each takes ``(y_true, y_pred)`` and returns one value per sample."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import losses, ops

__all__ = ["categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
           "mean_absolute_error", "mean_squared_error", "mae", "mse", "get"]


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) == argmax(y_true), per sample.

    Args:
        y_true: one-hot (or probability) rows, shape (n, k).
        y_pred: predicted scores or probabilities, shape (n, k).

    Returns:
        float32 array of shape (n,), 1.0 for a hit and 0.0 for a miss.
    """
    hits = np.asarray(ops.argmax(y_pred, axis=-1) == np.argmax(np.asarray(y_true), axis=-1))
    return hits.astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals the integer label, per sample.

    Args:
        y_true: integer class indices, shape (n,) or (n, 1).
        y_pred: predicted scores or probabilities, shape (n, k).

    Returns:
        float32 array of shape (n,), 1.0 for a hit and 0.0 for a miss.
    """
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return np.asarray(ops.argmax(y_pred, axis=-1) == y.astype(np.int64)).astype(np.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Mean over the last axis of (y_pred > threshold) == y_true, per sample.

    Args:
        y_true: 0/1 targets of y_pred's shape; shape (n,) goes with y_pred of shape (n, 1).
        y_pred: predicted probabilities.
        threshold: a prediction above it counts as 1. Defaults to 0.5.

    Returns:
        float32 array of shape ``y_pred.shape[:-1]``, the fraction of hits per sample.
    """
    p = np.asarray(y_pred)
    y = np.asarray(y_true, dtype=np.float32)
    if y.shape != p.shape and y.shape == p.shape[:-1]:
        y = y[..., None]
    return np.asarray(((p > threshold).astype(np.float32) == y).mean(axis=-1), np.float32)


mean_absolute_error = mae = losses.mean_absolute_error
mean_squared_error = mse = losses.mean_squared_error

_BY_NAME = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mae": mae, "mean_absolute_error": mae,
    "mse": mse, "mean_squared_error": mse,
}


def get(identifier: Any, loss: Optional[str] = None, output_dim: Optional[int] = None
        ) -> "tuple[str, Callable[..., np.ndarray]]":
    """(display name, function) of a metric. 'accuracy'/'acc' resolves like Keras: from the loss
    (categorical, sparse categorical or binary cross-entropy), else from the output width.

    Args:
        identifier: 'accuracy' or 'acc', a metric name ('categorical_accuracy', 'mae', ...),
            or a callable ``f(y_true, y_pred)`` (named by its ``__name__``).
        loss: the compiled loss's canonical name, used to resolve 'accuracy'. Defaults to
            None.
        output_dim: the model's output width; 1 resolves 'accuracy' to binary accuracy when
            the loss does not decide. Defaults to None.

    Returns:
        ``(name, function)``: the name as given (the display name in the logs) and the
        metric function.

    Raises:
        ValueError: an unknown metric; the message lists the valid names.
    """
    if identifier in ("accuracy", "acc"):
        if loss == "sparse_categorical_crossentropy":
            fn = sparse_categorical_accuracy
        elif loss == "binary_crossentropy" or output_dim == 1:
            fn = binary_accuracy
        else:
            fn = categorical_accuracy
        return identifier, fn
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return identifier, _BY_NAME[identifier]
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    raise ValueError(f"Unknown metric: {identifier!r}. Valid metrics: accuracy, "
                     f"{', '.join(sorted(_BY_NAME))}")


def resolve_accuracy(fn: Callable[..., np.ndarray], y_true: np.ndarray, y_pred_width: int
                     ) -> Callable[..., np.ndarray]:
    """Keras resolves 'accuracy' against the labels it sees: integer labels of shape (n,) with a
    wide output mean sparse accuracy."""
    if fn is categorical_accuracy and y_pred_width > 1 and (
            y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[1] == 1)):
        return sparse_categorical_accuracy
    return fn
