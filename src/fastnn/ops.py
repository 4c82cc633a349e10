"""Tensor operations on float32 numpy arrays, computed by fastnn's C++ kernels.

Every op accepts numpy arrays (or anything ``np.asarray`` takes) of a real dtype: float32
C-contiguous arrays are used without a copy, other real dtypes are converted to float32, and
strided views are read through their strides where the kernel can. Results are float32.
``out=`` must be a float32, C-contiguous, aligned array of the result's shape. Bad input raises a
``ValueError`` or ``TypeError`` that names the problem.

Given a ``fastnn.Variable`` or ``Tensor``, an op returns a ``Tensor``, which an open
``GradientTape`` records (autograd.py); plain arrays go straight to the backend (_backend.py),
which validates them and calls the kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple, Union, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _backend as _B
from . import autograd as _autograd
from ._backend import adagrad_update, adam_update, rmsprop_update, sgd_update
from .autograd import Tensor as _Tensor

if TYPE_CHECKING:
    from .autograd import Tensor

# For the type checker: an op returns a Tensor when an input is a Tensor (or Variable), else a
# numpy array (the overloads below say so op by op).
TensorLike = Union[ArrayLike, "Tensor"]
ArrayOrTensor = Union[np.ndarray, "Tensor"]

__all__: list[str] = []

_as_float32 = _B.as_float32


# ---- matmul ---------------------------------------------------------------------------------

__all__ += ["matmul"]


@overload
def matmul(a: Tensor, b: TensorLike, *, out: None = None, trans_a: bool = False,
           trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0,
           precision: str = "float32") -> Tensor: ...
@overload
def matmul(a: TensorLike, b: Tensor, *, out: None = None, trans_a: bool = False,
           trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0,
           precision: str = "float32") -> Tensor: ...
@overload
def matmul(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None, trans_a: bool = False,
           trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0,
           precision: str = "float32") -> np.ndarray: ...
def matmul(
    a: TensorLike,
    b: TensorLike,
    *,
    out: Optional[np.ndarray] = None,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
    precision: str = "float32",
) -> ArrayOrTensor:
    """General matrix product ``alpha * op(a) @ op(b) + beta * out`` (a float32 GEMM).

    ``op(x)`` is ``x.T`` when the matching ``trans_*`` flag is set; no transpose is materialised.
    Without flags it follows ``np.dot`` for an N-d ``a`` and a 2-d (or 1-d) ``b``:
    ``(p, q, r, d) . (d, e) -> (p, q, r, e)``.

    Args:
        a: array of shape (..., d), or (m, k) / (k, m) with ``trans_a``.
        b: array of shape (d, e) or (d,); with ``trans_b`` a 2-d (e, d).
        out: optional float32 C-contiguous result array; with ``beta != 0`` its contents are
            the C of ``alpha * A @ B + beta * C``. Numpy inputs only. Defaults to None.
        trans_a, trans_b: use the transpose of ``a`` / ``b`` (2-d operands only). Default False.
        alpha, beta: scalars of the GEMM, default 1.0 and 0.0. ``beta`` needs ``out``.
        precision: 'float32' (the default), or 'bfloat16': a and b rounded to bfloat16 (round to
            nearest even), the products accumulated in float32, as under the mixed_bfloat16
            policy (``dtype_policies``); the result is float32 and the same on every CPU. A
            Tensor's gradients are then bfloat16 GEMMs too.

    Returns:
        The float32 product (``out`` itself when given), or a Tensor when ``a`` or ``b`` is a
        Tensor or Variable.

    Raises:
        ValueError: mismatched inner dimensions, wrong ndim, ``beta`` without ``out``, bad
            ``out``, another precision.
        TypeError: non-numeric inputs or an ``out`` that is not float32.
    """
    if isinstance(a, _Tensor) or isinstance(b, _Tensor):
        return _autograd.matmul(a, b, out, trans_a, trans_b, alpha, beta, precision)
    return _B.matmul(a, b, out, trans_a, trans_b, alpha, beta, precision)


# ---- element-wise ---------------------------------------------------------------------------

__all__ += ["add", "subtract", "multiply", "divide", "maximum", "minimum", "relu", "sigmoid",
            "tanh", "exp", "log", "relu_grad", "sigmoid_grad", "tanh_grad"]

def _binary(code: Any, name: str, a: Any, b: Any, out: Optional[np.ndarray]) -> ArrayOrTensor:
    if isinstance(a, _Tensor) or isinstance(b, _Tensor):
        return _autograd.binary(code, name, a, b, out)
    return _B.binary(code, name, a, b, out)


def _unary(code: Any, x: Any, out: Optional[np.ndarray]) -> ArrayOrTensor:
    if isinstance(x, _Tensor):
        return _autograd.unary(code, x, out)
    return _B.unary(code, x, out)


@overload
def add(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def add(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def add(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def add(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``a + b`` with numpy broadcasting (e.g. (128, 512) + (512,) adds a bias to every row).

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.ADD, "add", a, b, out)


@overload
def subtract(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def subtract(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def subtract(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def subtract(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``a - b`` with numpy broadcasting.

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.SUBTRACT, "subtract", a, b, out)


@overload
def multiply(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def multiply(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def multiply(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def multiply(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``a * b`` with numpy broadcasting.

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.MULTIPLY, "multiply", a, b, out)


@overload
def divide(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def divide(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def divide(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def divide(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``a / b`` with numpy broadcasting (IEEE: x / 0 is ±inf, 0 / 0 is NaN).

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.DIVIDE, "divide", a, b, out)


@overload
def maximum(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def maximum(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def maximum(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def maximum(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """Element-wise maximum with numpy broadcasting; NaN if either is NaN (like ``np.maximum``).

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.MAXIMUM, "maximum", a, b, out)


@overload
def minimum(a: Tensor, b: TensorLike, *, out: None = None) -> Tensor: ...
@overload
def minimum(a: TensorLike, b: Tensor, *, out: None = None) -> Tensor: ...
@overload
def minimum(a: ArrayLike, b: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def minimum(a: TensorLike, b: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """Element-wise minimum with numpy broadcasting; NaN if either is NaN (like ``np.minimum``).

    Args:
        a, b: arrays of real numbers (or Tensors / Variables) whose shapes broadcast together.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``a`` or ``b`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of the broadcast shape (``out`` itself when given), or a Tensor when
        ``a`` or ``b`` is a Tensor or Variable.

    Raises:
        ValueError: shapes that do not broadcast (both are named), a bad ``out``, or ``out``
            with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _binary(_B.MINIMUM, "minimum", a, b, out)


@overload
def relu(x: Tensor, *, out: None = None) -> Tensor: ...
@overload
def relu(x: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def relu(x: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``max(x, 0)``, as ``np.maximum(x, 0)`` (NaN stays NaN).

    Args:
        x: array of real numbers, or a Tensor / Variable.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of ``x``'s shape (``out`` itself when given), or a Tensor for a Tensor.

    Raises:
        ValueError: a bad ``out``, or ``out`` with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _unary(_B.RELU, x, out)


@overload
def sigmoid(x: Tensor, *, out: None = None) -> Tensor: ...
@overload
def sigmoid(x: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def sigmoid(x: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``1 / (1 + exp(-x))``, computed without overflow for any x.

    Args:
        x: array of real numbers, or a Tensor / Variable.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of ``x``'s shape (``out`` itself when given), or a Tensor for a Tensor.

    Raises:
        ValueError: a bad ``out``, or ``out`` with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _unary(_B.SIGMOID, x, out)


@overload
def tanh(x: Tensor, *, out: None = None) -> Tensor: ...
@overload
def tanh(x: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def tanh(x: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """Hyperbolic tangent.

    Args:
        x: array of real numbers, or a Tensor / Variable.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of ``x``'s shape (``out`` itself when given), or a Tensor for a Tensor.

    Raises:
        ValueError: a bad ``out``, or ``out`` with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _unary(_B.TANH, x, out)


@overload
def exp(x: Tensor, *, out: None = None) -> Tensor: ...
@overload
def exp(x: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def exp(x: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``e ** x`` (inf on overflow, like numpy).

    Args:
        x: array of real numbers, or a Tensor / Variable.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of ``x``'s shape (``out`` itself when given), or a Tensor for a Tensor.

    Raises:
        ValueError: a bad ``out``, or ``out`` with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _unary(_B.EXP, x, out)


@overload
def log(x: Tensor, *, out: None = None) -> Tensor: ...
@overload
def log(x: ArrayLike, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def log(x: TensorLike, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """Natural logarithm (-inf at 0, NaN below 0, like numpy).

    Args:
        x: array of real numbers, or a Tensor / Variable.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        A float32 array of ``x``'s shape (``out`` itself when given), or a Tensor for a Tensor.

    Raises:
        ValueError: a bad ``out``, or ``out`` with a Tensor input.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _unary(_B.LOG, x, out)


# The backward helpers work on arrays (a Tensor is read as its value, never recorded).

def relu_grad(grad: Any, x: Any, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Backward of relu: ``grad * (x > 0)``. The gradient at exactly 0 is 0 (as in Keras and
    TensorFlow). ``x`` may be relu's input or its output: both are > 0 at the same places.

    Args:
        grad: dLoss/d(output), an array of real numbers (a Tensor is read as its value).
        x: relu's input or output, of a shape that broadcasts with ``grad``.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``grad`` itself. Defaults to None.

    Returns:
        dLoss/d(input), a float32 array of the broadcast shape (``out`` itself when given).

    Raises:
        ValueError: shapes that do not broadcast, or a bad ``out``.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _B.binary(_B.RELU_GRAD, "relu_grad", grad, x, out)


def sigmoid_grad(grad: Any, y: Any, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Backward of sigmoid from its output ``y = sigmoid(x)``: ``grad * y * (1 - y)``.

    Args:
        grad: dLoss/d(output), an array of real numbers (a Tensor is read as its value).
        y: sigmoid's output, of a shape that broadcasts with ``grad``.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``grad`` itself. Defaults to None.

    Returns:
        dLoss/d(input), a float32 array of the broadcast shape (``out`` itself when given).

    Raises:
        ValueError: shapes that do not broadcast, or a bad ``out``.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _B.binary(_B.SIGMOID_GRAD, "sigmoid_grad", grad, y, out)


def tanh_grad(grad: Any, y: Any, *, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Backward of tanh from its output ``y = tanh(x)``: ``grad * (1 - y * y)``.

    Args:
        grad: dLoss/d(output), an array of real numbers (a Tensor is read as its value).
        y: tanh's output, of a shape that broadcasts with ``grad``.
        out: optional float32 C-contiguous array of the broadcast shape to write the result
            into; it may be ``grad`` itself. Defaults to None.

    Returns:
        dLoss/d(input), a float32 array of the broadcast shape (``out`` itself when given).

    Raises:
        ValueError: shapes that do not broadcast, or a bad ``out``.
        TypeError: non-numeric input, or an ``out`` that is not a float32 numpy array.
    """
    return _B.binary(_B.TANH_GRAD, "tanh_grad", grad, y, out)


# ---- reductions -----------------------------------------------------------------------------

__all__ += ["sum", "mean", "argmax"]


@overload
def sum(x: Tensor, axis: Any = None, keepdims: bool = False, *,  # noqa: A001 - numpy's name
        out: None = None) -> Tensor: ...
@overload
def sum(x: ArrayLike, axis: Any = None, keepdims: bool = False, *,  # noqa: A001
        out: Optional[np.ndarray] = None) -> Any: ...
def sum(x: TensorLike, axis: Any = None, keepdims: bool = False, *,  # noqa: A001
        out: Optional[np.ndarray] = None) -> Any:
    """Sum over ``axis`` (an int, a tuple of ints, or None for all), like ``np.sum``;
    accumulated in float64, so at least as accurate as numpy's float32 sum.

    ``sum(grad, axis=0)`` over a (batch, units) gradient is the bias gradient.

    Args:
        x: array of real numbers, or a Tensor / Variable.
        axis: an int or a tuple of ints (negative ones count from the end), or None (default)
            for every axis.
        keepdims: keep each reduced axis with size 1. Defaults to False.
        out: optional float32 C-contiguous array of the result's shape. Numpy inputs only.
            Defaults to None.

    Returns:
        A float32 array (``out`` itself when given), or a numpy float32 scalar for a full
        reduction without keepdims or ``out``; a Tensor for a Tensor.

    Raises:
        ValueError: an axis out of bounds or repeated, a bad ``out``, or ``out`` with a Tensor.
        TypeError: non-numeric input, an axis that is not an int, or an ``out`` that is not a
            float32 numpy array.
    """
    if isinstance(x, _Tensor):
        return _autograd.reduce("sum", x, axis, keepdims, out)
    return _B.sum(x, axis, keepdims, out)


@overload
def mean(x: Tensor, axis: Any = None, keepdims: bool = False, *, out: None = None) -> Tensor: ...
@overload
def mean(x: ArrayLike, axis: Any = None, keepdims: bool = False, *,
         out: Optional[np.ndarray] = None) -> Any: ...
def mean(x: TensorLike, axis: Any = None, keepdims: bool = False, *,
         out: Optional[np.ndarray] = None) -> Any:
    """Mean over ``axis`` like ``np.mean`` (NaN over an empty axis, without a warning).

    Args:
        x: array of real numbers, or a Tensor / Variable.
        axis: an int or a tuple of ints (negative ones count from the end), or None (default)
            for every axis.
        keepdims: keep each reduced axis with size 1. Defaults to False.
        out: optional float32 C-contiguous array of the result's shape. Numpy inputs only.
            Defaults to None.

    Returns:
        A float32 array (``out`` itself when given), or a numpy float32 scalar for a full
        reduction without keepdims or ``out``; a Tensor for a Tensor.

    Raises:
        ValueError: an axis out of bounds or repeated, a bad ``out``, or ``out`` with a Tensor.
        TypeError: non-numeric input, an axis that is not an int, or an ``out`` that is not a
            float32 numpy array.
    """
    if isinstance(x, _Tensor):
        return _autograd.reduce("mean", x, axis, keepdims, out)
    return _B.mean(x, axis, keepdims, out)


def argmax(x: Any, axis: Optional[int] = None) -> Any:
    """Indices of the maxima along ``axis`` (or of the flattened array), like ``np.argmax``:
    the first occurrence wins, and a NaN counts as the maximum.

    Args:
        x: array of real numbers (a Tensor is read as its value).
        axis: the axis to search, an int (negative counts from the end), or None (default) for
            the flattened array.

    Returns:
        int64 indices, of ``x``'s shape without ``axis``; a numpy int64 scalar when ``axis``
        is None or ``x`` is 1-d.

    Raises:
        ValueError: an empty array or an empty axis, or an axis out of bounds.
        TypeError: non-numeric input, or an axis that is not an int.
    """
    return _B.argmax(x.numpy() if isinstance(x, _Tensor) else x, axis)


# ---- softmax and cross-entropy --------------------------------------------------------------

__all__ += ["softmax", "softmax_cross_entropy", "sigmoid_cross_entropy"]


@overload
def softmax(x: Tensor, axis: int = -1, *, out: None = None) -> Tensor: ...
@overload
def softmax(x: ArrayLike, axis: int = -1, *, out: Optional[np.ndarray] = None) -> np.ndarray: ...
def softmax(x: TensorLike, axis: int = -1, *, out: Optional[np.ndarray] = None) -> ArrayOrTensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably (the maximum is subtracted
    first). A slice whose entries are all -inf gives NaN, as the formula does.

    Args:
        x: array of real numbers of at least 1 dimension, or a Tensor / Variable.
        axis: the axis to normalise along. Defaults to -1, the last.
        out: optional float32 C-contiguous array of ``x``'s shape to write the result into; it
            may be ``x`` itself. Numpy inputs only. Defaults to None.

    Returns:
        float32 probabilities of ``x``'s shape (``out`` itself when given), or a Tensor for a
        Tensor.

    Raises:
        ValueError: a 0-d ``x``, an axis out of bounds, a bad ``out``, or ``out`` with a Tensor.
        TypeError: non-numeric input, an axis that is not an int, or an ``out`` that is not a
            float32 numpy array.
    """
    if isinstance(x, _Tensor):
        return _autograd.softmax(x, axis, out)
    return _B.softmax(x, axis, out)


@overload
def softmax_cross_entropy(logits: Tensor, labels: ArrayLike, *,
                          reduction: str = "mean") -> Tuple[Tensor, np.ndarray]: ...
@overload
def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike, *,
                          reduction: str = "mean") -> Tuple[Any, np.ndarray]: ...
def softmax_cross_entropy(logits: TensorLike, labels: ArrayLike, *,
                          reduction: str = "mean") -> Tuple[Any, np.ndarray]:
    """Softmax cross-entropy and its gradient with respect to the logits, in one fused pass:
    ``logsumexp(z) - z[label]`` per row (``-sum(y * log_softmax(z))`` for probability rows).

    Args:
        logits: (n, k) scores, k >= 1.
        labels: integer class indices of shape (n,) (integral floats are accepted), or one-hot
            / probability rows of shape (n, k).
        reduction: ``"mean"`` (default) for the batch mean, ``"none"`` for one loss per row.

    Returns:
        ``(loss, grad)``: the mean as a Python float (NaN when n == 0), or the float32 (n,) losses
        with ``"none"``; and the float32 (n, k) gradient of the mean,
        ``(softmax(logits) - y) / n``.

    Raises:
        ValueError: logits not 2-d or with k = 0; labels of the wrong shape, non-integral, or
            out of range [0, k) (the first bad label and its index are named); another reduction.
        TypeError: non-numeric input.

    With a Tensor of logits (under a GradientTape), the loss is a Tensor whose gradient is the
    fused kernel's.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"softmax_cross_entropy: reduction must be 'mean' or 'none'; "
                         f"received {reduction!r}")
    if isinstance(logits, _Tensor):
        return _autograd.softmax_cross_entropy(logits, labels, reduction)
    return _B.softmax_cross_entropy(logits, labels, reduction)


@overload
def sigmoid_cross_entropy(logits: Tensor, targets: ArrayLike) -> Tensor: ...
@overload
def sigmoid_cross_entropy(logits: ArrayLike, targets: ArrayLike) -> np.ndarray: ...
def sigmoid_cross_entropy(logits: TensorLike, targets: ArrayLike) -> ArrayOrTensor:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets``, element by element, in
    its stable form ``max(z, 0) - z * y + log(1 + exp(-|z|))`` (no overflow for any z). On a
    tape its gradient is ``sigmoid(z) - y``.

    Args:
        logits: scores z of any shape, an array or a Tensor.
        targets: y in [0, 1], of the same shape.

    Returns:
        The float32 losses, of the logits' shape; a Tensor for a Tensor.

    Raises:
        ValueError: shapes that differ.
        TypeError: non-numeric input.
    """
    if isinstance(logits, _Tensor):
        return _autograd.sigmoid_cross_entropy(logits, _B.as_float32(targets, "targets"))
    return _B.sigmoid_cross_entropy(logits, targets)[0]


# ---- the layers' ops --------------------------------------------------------------------------

__all__ += ["dense", "dropout", "concatenate", "abs"]


@overload
def dense(x: Tensor, kernel: TensorLike, bias: Optional[TensorLike] = None,
          activation: Optional[str] = None, precision: str = "float32") -> Tensor: ...
@overload
def dense(x: TensorLike, kernel: Tensor, bias: Optional[TensorLike] = None,
          activation: Optional[str] = None, precision: str = "float32") -> Tensor: ...
@overload
def dense(x: ArrayLike, kernel: ArrayLike, bias: Optional[ArrayLike] = None,
          activation: Optional[str] = None, precision: str = "float32") -> np.ndarray: ...
def dense(x: TensorLike, kernel: TensorLike, bias: Optional[TensorLike] = None,
          activation: Optional[str] = None, precision: str = "float32") -> ArrayOrTensor:
    """``activation(x @ kernel + bias)`` in one C++ call: the bias and the activation run in the
    GEMM's epilogue. This is what ``layers.Dense`` computes, and the kernel pair (forward and
    backward) that a compiled model runs.

    Args:
        x: inputs of shape (..., d): every axis but the last is a batch axis.
        kernel: the (d, units) weights.
        bias: the (units,) bias, or None (default) for none.
        activation: 'linear' (or None, the default), 'relu', 'sigmoid' or 'tanh'.
        precision: the GEMMs' (forward and backward), as for ``matmul``: 'float32' (default)
            or 'bfloat16' (what a Dense layer under mixed_bfloat16 uses). A sparse x is
            multiplied in float32 either way.

    Returns:
        float32 of shape (..., units); a Tensor when an input is a Tensor or Variable, whose
        gradient a tape takes with the C++ backward (the activation's derivative from the
        output, then the weight, bias and input gradients as GEMMs).

    Raises:
        ValueError: a kernel that is not 2-d or does not match x's last axis, a bias of the
            wrong shape, or another activation or precision.
        TypeError: non-numeric input.
    """
    act = "linear" if activation is None else activation
    if act not in _B.DENSE_ACTIVATIONS:
        raise ValueError(f"dense: activation must be one of {', '.join(_B.DENSE_ACTIVATIONS)} "
                         f"(apply softmax after); received {activation!r}")
    bf16 = _B.check_precision(precision, "dense")
    if isinstance(x, _Tensor) or isinstance(kernel, _Tensor) or isinstance(bias, _Tensor):
        return _autograd.dense(x, kernel, bias, act, bf16)
    return _B.dense(x, kernel, bias, act, bf16)


def dropout(x: TensorLike, rate: float, seed: int, counter: int = 0) -> ArrayOrTensor:
    """Inverted dropout: each element is zeroed with probability ``rate`` and the others are
    scaled by ``1 / (1 - rate)``. The mask is a function of ``(seed, counter)`` and the element's
    position only, computed by the C++ kernel that a compiled model runs too: the same on every
    thread count. ``layers.Dropout`` keeps a seed and counts its calls.

    Args:
        x: array of real numbers (or a Tensor), any shape.
        rate: the fraction to drop, in [0, 1).
        seed: a non-negative integer below 2**64.
        counter: which call of the seed's sequence this is. Defaults to 0.

    Returns:
        float32 of x's shape; a Tensor for a Tensor (its gradient is the same mask).

    Raises:
        ValueError: a rate outside [0, 1), or a seed or counter outside [0, 2**64).
        TypeError: non-numeric input.
    """
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1). Received: rate={rate}")
    for name, value in (("seed", seed), ("counter", counter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < 2**64:
            raise ValueError(f"dropout: {name} must be an integer in [0, 2**64). "
                             f"Received: {name}={value!r}")
    if isinstance(x, _Tensor):
        return _autograd.dropout(x, rate, int(seed), int(counter))
    return _B.dropout(x, rate, int(seed), int(counter))[0]


def concatenate(xs: Any, axis: int = -1) -> ArrayOrTensor:
    """The arrays joined along ``axis``, like ``np.concatenate`` (differentiable: the gradient
    is split back).

    Args:
        xs: a list or tuple of arrays (or Tensors) whose shapes agree but along ``axis``.
        axis: the axis to join along. Defaults to -1, the last.

    Returns:
        float32; a Tensor when one of the inputs is a Tensor.

    Raises:
        ValueError: no inputs, or shapes that do not fit.
        TypeError: non-numeric input, or ``xs`` not a list or tuple.
    """
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"concatenate takes a list or tuple of arrays; received "
                        f"{type(xs).__name__}")
    if any(isinstance(x, _Tensor) for x in xs):
        return _autograd.concatenate(xs, axis)
    return _B.concatenate(xs, axis)


@overload
def abs(x: Tensor) -> Tensor: ...  # noqa: A001 - numpy's and Keras' name
@overload
def abs(x: ArrayLike) -> np.ndarray: ...  # noqa: A001
def abs(x: TensorLike) -> ArrayOrTensor:  # noqa: A001
    """``|x|`` element by element. On a tape its gradient is ``sign(x)``: 0 at 0, as Keras.

    Args:
        x: array of real numbers, or a Tensor / Variable.

    Returns:
        float32 of x's shape; a Tensor for a Tensor.

    Raises:
        TypeError: non-numeric input.
    """
    if isinstance(x, _Tensor):
        return _autograd.absolute(x)
    return _B.absolute(x)


# ---- shape ---------------------------------------------------------------------------------

__all__ += ["reshape", "transpose"]


@overload
def reshape(x: Tensor, shape: Any) -> Tensor: ...
@overload
def reshape(x: ArrayLike, shape: Any) -> np.ndarray: ...
def reshape(x: TensorLike, shape: Any) -> ArrayOrTensor:
    """``x`` with a new shape (one entry may be -1), like ``np.reshape``: a view when the layout
    allows. Differentiable: the gradient is reshaped back.

    Args:
        x: array of real numbers, or a Tensor / Variable.
        shape: an int or a tuple of ints with as many elements in all as ``x`` has.

    Returns:
        A float32 array (a view of ``x`` when the layout allows), or a Tensor for a Tensor (a
        copy for a Variable, so later assignments to it do not show through).

    Raises:
        ValueError: a shape with a different number of elements.
        TypeError: non-numeric input.
    """
    if isinstance(x, _Tensor):
        return _autograd.reshape(x, shape)
    return np.reshape(_as_float32(x, "x"), shape)


@overload
def transpose(x: Tensor, axes: Any = None) -> Tensor: ...
@overload
def transpose(x: ArrayLike, axes: Any = None) -> np.ndarray: ...
def transpose(x: TensorLike, axes: Any = None) -> ArrayOrTensor:
    """``x`` with its axes permuted (reversed by default), like ``np.transpose``: a view.
    Differentiable: the gradient is permuted back.

    Args:
        x: array of real numbers, or a Tensor / Variable.
        axes: a permutation of ``range(x.ndim)``; None (default) reverses the axes.

    Returns:
        A float32 view of ``x`` with its axes permuted, or a Tensor for a Tensor (a copy for a
        Variable).

    Raises:
        ValueError: ``axes`` that is not a permutation of ``x``'s axes.
        TypeError: non-numeric input.
    """
    if isinstance(x, _Tensor):
        return _autograd.transpose(x, axes)
    return np.transpose(_as_float32(x, "x"), axes)


# ---- optimizer updates ----------------------------------------------------------------------

# Array-only: validated and run where they are written, in the backend.
__all__ += ["adagrad_update", "adam_update", "rmsprop_update", "sgd_update"]
