"""Weight penalties added to the loss: l1 * sum(|w|) + l2 * sum(w^2), as in Keras. A compiled
model computes them (and their gradients) in its C++ step; op by op they are fastnn ops."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import numpy as np

from . import ops

__all__ = ["Regularizer", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    """Base class, as Keras': calling it on a weight gives the penalty added to the loss. A
    subclass takes its own factors, as ``L1L2(l1, l2)`` does, and writes ``__call__`` with
    fastnn.ops, so that a GradientTape differentiates the penalty."""

    def __call__(self, x: Any) -> Any:
        """The penalty for the weights ``x``.

        Args:
            x: the weights, an array or a Variable.

        Returns:
            The penalty: a float32 scalar, or a scalar Tensor for a Variable.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments."""
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2); its gradient is l1 * sign(w) + 2 * l2 * w.

    Args:
        l1: the L1 factor, >= 0. Defaults to 0.0.
        l2: the L2 factor, >= 0. Defaults to 0.0.

    Raises:
        ValueError: a negative factor.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"Regularization factors must be >= 0. Received: l1={l1}, l2={l2}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: Any) -> Any:
        total: Any = np.float32(0.0)
        if self.l1:
            total = ops.multiply(ops.sum(ops.abs(x)), self.l1)
        if self.l2:
            total = ops.add(total, ops.multiply(ops.sum(ops.multiply(x, x)), self.l2))
        return total

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


def l1(l1: float = 0.01) -> L1L2:  # noqa: E743 - Keras' name
    """Penalty l1 * sum(|w|) (Keras' default factor 0.01).

    Args:
        l1: the factor, >= 0. Defaults to 0.01.

    Returns:
        An ``L1L2`` with ``l2 = 0``.

    Raises:
        ValueError: a negative factor.
    """
    return L1L2(l1=l1)


def l2(l2: float = 0.01) -> L1L2:
    """Penalty l2 * sum(w^2) (Keras' default factor 0.01).

    Args:
        l2: the factor, >= 0. Defaults to 0.01.

    Returns:
        An ``L1L2`` with ``l1 = 0``.

    Raises:
        ValueError: a negative factor.
    """
    return L1L2(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Both penalties (Keras' default factors 0.01).

    Args:
        l1: the L1 factor, >= 0. Defaults to 0.01.
        l2: the L2 factor, >= 0. Defaults to 0.01.

    Returns:
        An ``L1L2``.

    Raises:
        ValueError: a negative factor.
    """
    return L1L2(l1=l1, l2=l2)


def get(identifier: Union[None, str, Regularizer, Dict[str, Any]]) -> Optional[Regularizer]:
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2'), an instance or a config dict.

    Args:
        identifier: None or a Regularizer (returned as is), a name (with Keras' default
            factors, 0.01), or a dict of ``L1L2``'s arguments, ``{"l1": ..., "l2": ...}``.

    Returns:
        A Regularizer, or None for None.

    Raises:
        ValueError: an unknown name or a negative factor.
        TypeError: a dict with keys other than 'l1' and 'l2'.
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return L1L2(**identifier)
    if isinstance(identifier, str) and identifier in ("l1", "l2", "l1_l2"):
        return {"l1": l1, "l2": l2, "l1_l2": l1_l2}[identifier]()
    raise ValueError(f"Unknown regularizer: {identifier!r}. Valid regularizers: l1, l2, l1_l2")
