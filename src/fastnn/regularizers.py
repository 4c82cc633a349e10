"""Weight penalties added to the loss: l1 * sum(|w|) + l2 * sum(w^2), as in Keras."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import numpy as np

from . import ops

__all__ = ["Regularizer", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    """Base class: ``penalty(w)`` is added to the loss, ``add_gradient(w, grad)`` adds its
    gradient into ``grad`` in place. A subclass takes its own factors, as ``L1L2(l1, l2)``
    does."""

    def penalty(self, w: np.ndarray) -> float:
        """The term this regularizer adds to the loss for the weights ``w``.

        Args:
            w: the weights, a float32 array (a layer's kernel).

        Returns:
            The penalty, a float.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError

    def add_gradient(self, w: np.ndarray, grad: np.ndarray) -> None:
        """Adds the penalty's gradient with respect to ``w`` into ``grad``, in place.

        Args:
            w: the weights, a float32 array.
            grad: float32 C-contiguous array of ``w``'s shape: the loss's gradient with
                respect to ``w``, updated in place.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments."""
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2); gradient l1 * sign(w) + 2 * l2 * w.

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

    def penalty(self, w: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum(dtype=np.float64))
        if self.l2:
            total += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return total

    def add_gradient(self, w: np.ndarray, grad: np.ndarray) -> None:
        if self.l2:
            ops.add(grad, ops.multiply(w, 2.0 * self.l2), out=grad)
        if self.l1:
            ops.add(grad, np.sign(w, dtype=np.float32) * np.float32(self.l1), out=grad)

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
