"""The backend: numpy arrays in, fastnn._C kernels, float32 arrays out. Every input is validated
and converted here, in one place; it imports nothing of fastnn above the compiled module.

fastnn.ops exposes these computations (and hands Tensors to fastnn.autograd, whose gradient rules
call back into this module). Inputs may be any real dtype or layout: float32 C-contiguous arrays
are used without a copy, others are converted. ``out`` arrays must be float32, C-contiguous,
writeable, aligned and of the result's shape.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _C

REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_F32 = np.dtype(np.float32)  # native float32; numpy reuses this instance for every such array

# The kernels' codes, exported once by the compiled module.
ADD, SUBTRACT, MULTIPLY, DIVIDE = (_C.BinaryOp.add, _C.BinaryOp.subtract, _C.BinaryOp.multiply,
                                   _C.BinaryOp.divide)
MAXIMUM, MINIMUM = _C.BinaryOp.maximum, _C.BinaryOp.minimum
RELU_GRAD, SIGMOID_GRAD, TANH_GRAD = (_C.BinaryOp.relu_grad, _C.BinaryOp.sigmoid_grad,
                                      _C.BinaryOp.tanh_grad)
RELU, SIGMOID, TANH, EXP, LOG = (_C.UnaryOp.relu, _C.UnaryOp.sigmoid, _C.UnaryOp.tanh,
                                 _C.UnaryOp.exp, _C.UnaryOp.log)

# Activations the dense kernel applies in its GEMM epilogue, by name.
DENSE_ACTIVATIONS = {"linear": _C.Activation.linear, "relu": _C.Activation.relu,
                     "sigmoid": _C.Activation.sigmoid, "tanh": _C.Activation.tanh}
ACTIVATION_GRAD = {"relu": RELU_GRAD, "sigmoid": SIGMOID_GRAD, "tanh": TANH_GRAD}


def as_float32(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32 ndarray, copying only when the dtype (or a byte-odd stride) needs it."""
    # Fast path first: ops are called per batch, so a few hundred nanoseconds count.
    if type(x) is np.ndarray and x.dtype is _F32 and x.flags.aligned:
        return x
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind not in REAL_KINDS:
        raise TypeError(
            f"{name} must be an array of real numbers (bool, int or float); "
            f"received dtype {arr.dtype}"
        )
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    elif not arr.flags.aligned:
        # A byte-odd stride or data pointer (e.g. floats in a packed buffer): the kernels load
        # whole floats, which is undefined behaviour there, so they read an aligned copy.
        arr = np.array(arr, order="C")
    return arr


def check_out(out: Any, shape: Tuple[int, ...], name: str = "out") -> np.ndarray:
    """Validate a caller's ``out`` array: float32, C-contiguous, writeable, aligned, exactly
    ``shape``."""
    if type(out) is np.ndarray and out.dtype is _F32 and out.shape == shape:
        flags = out.flags
        if flags.c_contiguous and flags.writeable and flags.aligned:
            return out
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; received {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32; received dtype {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}; the result has shape {tuple(shape)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not out.flags.aligned:  # the kernels store whole floats: undefined behaviour otherwise
        raise ValueError(f"{name} must be aligned to 4 bytes (its data starts mid-float)")
    return out


def _overlaps(out: np.ndarray, *inputs: np.ndarray) -> bool:
    return any(np.may_share_memory(out, x) for x in inputs)


# ---- matmul ---------------------------------------------------------------------------------

PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: Any, what: str) -> bool:
    """Whether precision asks for bfloat16 GEMMs; anything but the two names is an error."""
    if precision not in PRECISIONS:
        raise ValueError(f"{what}: precision must be 'float32' or 'bfloat16'. Received: "
                         f"precision={precision!r}")
    return bool(precision == "bfloat16")


def matmul(a: Any, b: Any, out: Optional[np.ndarray] = None, trans_a: bool = False,
           trans_b: bool = False, alpha: float = 1.0, beta: float = 0.0,
           precision: str = "float32") -> np.ndarray:
    """``alpha * op(a) @ op(b) + beta * out``; an N-d ``a`` times a 2-d (or 1-d) ``b`` follows
    ``np.dot``."""
    bf16 = check_precision(precision, "matmul")
    a = as_float32(a, "a")
    b = as_float32(b, "b")
    if beta != 0.0 and out is None:
        raise ValueError("matmul: beta != 0 needs out= (the C that beta scales)")
    if a.ndim == 2 and b.ndim == 2:  # the common case, kept short: it runs once per layer call
        m, d = (a.shape[1], a.shape[0]) if trans_a else a.shape
        k_b, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
        a2, b2, result_shape = a, b, (m, n)
    else:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs arrays of at least 1 dimension; received shapes "
                             f"{a.shape} and {b.shape}")
        if b.ndim > 2:
            raise ValueError(f"matmul: b must be 1-d or 2-d; received shape {b.shape}")
        if trans_a or trans_b:
            raise ValueError(f"matmul: trans_a/trans_b need 2-d operands; received shapes "
                             f"{a.shape} and {b.shape}")
        d = a.shape[-1]
        # Rows counted, not inferred: reshape(-1, 0) cannot infer them when d == 0.
        a2 = a.reshape(math.prod(a.shape[:-1]), d)
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        k_b, n = b2.shape
        m = a2.shape[0]
        result_shape = a.shape[:-1] + b.shape[1:]
    if d != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"op(a) has {d} columns but op(b) has {k_b} rows"
            + (" (trans_a=True)" if trans_a else "") + (" (trans_b=True)" if trans_b else "")
        )

    if out is None:
        c = np.empty((m, n), dtype=np.float32)
        _C.sgemm(a2, b2, c, trans_a, trans_b, alpha, 0.0, bf16)
        return c if c.shape == result_shape else c.reshape(result_shape)

    check_out(out, result_shape)
    c = out if out.shape == (m, n) else out.reshape(m, n)
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        # The kernel reads a and b while writing out: compute into a copy first.
        tmp = c.copy() if beta != 0.0 else np.empty_like(c)
        _C.sgemm(a2, b2, tmp, trans_a, trans_b, alpha, beta, bf16)
        c[...] = tmp
    else:
        _C.sgemm(a2, b2, c, trans_a, trans_b, alpha, beta, bf16)
    return out


# ---- element-wise ---------------------------------------------------------------------------

def broadcast_shapes(a: Tuple[int, ...], b: Tuple[int, ...], name: str) -> Tuple[int, ...]:
    """The shape numpy broadcasts a and b to, for any rank numpy allows (np.broadcast_shapes
    stops at 32 dimensions; arrays go to 64).

    Raises:
        ValueError: the shapes do not broadcast (``name`` is the op, for the message).
    """
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{name}: operands could not be broadcast together with shapes "
                             f"{tuple(a)} and {tuple(b)}")
        out.append(y if x == 1 else x)
    return tuple(out)


def binary(code: Any, name: str, a: Any, b: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``code(a, b)`` with numpy broadcasting (``name`` is for messages)."""
    a = as_float32(a, "a")
    b = as_float32(b, "b")
    shape = a.shape if a.shape == b.shape else broadcast_shapes(a.shape, b.shape, name)
    if out is None:
        result = np.empty(shape, np.float32)
        _C.binary(code, a, b, result)
        return result
    check_out(out, shape)
    # Writing into an input is safe element by element only when out *is* that input's memory
    # with the same layout. Each input is checked on its own: out=a with b = a[::-1] (or a row
    # of a broadcast over it) must not read elements already overwritten. Any other overlap goes
    # through a temporary.
    if _in_place_safe(out, a) and _in_place_safe(out, b):
        _C.binary(code, a, b, out)
    else:
        tmp = np.empty(shape, np.float32)
        _C.binary(code, a, b, tmp)
        out[...] = tmp
    return out


def _in_place_safe(out: np.ndarray, x: np.ndarray) -> bool:
    """Whether the kernel may read ``x`` while writing ``out`` element by element."""
    return x is out or not np.may_share_memory(out, x) or (
        x.shape == out.shape and _same_memory(out, x))


def _same_memory(out: np.ndarray, x: np.ndarray) -> bool:
    return (x.__array_interface__["data"][0] == out.__array_interface__["data"][0]
            and x.strides == out.strides)


def unary(code: Any, x: Any, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``code(x)`` element by element."""
    x = as_float32(x, "x")
    if out is None:
        result = np.empty(x.shape, np.float32)
        _C.unary(code, x, result)
        return result
    check_out(out, x.shape)
    if out is not x and _overlaps(out, x) and not _same_memory(out, x):
        tmp = np.empty(x.shape, np.float32)
        _C.unary(code, x, tmp)
        out[...] = tmp
    else:
        _C.unary(code, x, out)
    return out


def absolute(x: Any) -> np.ndarray:
    """``|x|`` (numpy's: the kernels have no absolute value of their own)."""
    return np.asarray(np.abs(as_float32(x, "x")))


def sign(x: Any) -> np.ndarray:
    """-1, 0 or 1 (0 at 0 and NaN at NaN, like numpy), as float32."""
    return np.asarray(np.sign(as_float32(x, "x")))


# ---- reductions -----------------------------------------------------------------------------

def normalize_axes(axis: Any, ndim: int, name: str) -> Tuple[int, ...]:
    """``axis`` (an int, a sequence or None for all) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints; received {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of bounds for an array of dimension {ndim}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _as_reduction_view(x: np.ndarray,
                       axes: Tuple[int, ...]) -> Tuple[np.ndarray, int, int, int]:
    """(contiguous array, outer, reduced, inner) with the reduced axes in the middle."""
    if axes and axes != tuple(range(axes[0], axes[-1] + 1)):
        # Non-adjacent axes: bring them together at the end (one copy).
        x = np.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
        axes = tuple(range(x.ndim - len(axes), x.ndim))
    x = np.ascontiguousarray(x)
    shape = x.shape
    first = axes[0] if axes else x.ndim
    # math.prod, not np.prod: this runs per call, and np.prod on a tuple costs microseconds.
    outer = math.prod(shape[:first])
    reduced = math.prod(shape[d] for d in axes)
    inner = math.prod(shape[first + len(axes):])
    return x, outer, reduced, inner


def _reduced_shape(shape: Tuple[int, ...], axes: Tuple[int, ...],
                   keepdims: bool) -> Tuple[int, ...]:
    if keepdims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def sum(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001 - numpy's name
        out: Optional[np.ndarray] = None) -> Any:
    """Sum over ``axis``, accumulated in float64; a float32 scalar for a full reduction."""
    x = as_float32(x, "x")
    axes = normalize_axes(axis, x.ndim, "sum")
    shape = _reduced_shape(x.shape, axes, keepdims)
    xc, outer, reduced, inner = _as_reduction_view(x, axes)
    if out is None:
        result = np.empty(shape, np.float32)
    else:
        result = check_out(out, shape)
    _C.sum(xc, result, outer, reduced, inner)
    if out is None and result.ndim == 0:
        return result[()]
    return result


def mean(x: Any, axis: Any = None, keepdims: bool = False,
         out: Optional[np.ndarray] = None) -> Any:
    """Mean over ``axis`` (NaN over an empty axis, without a warning)."""
    x = as_float32(x, "x")
    axes = normalize_axes(axis, x.ndim, "mean")
    count = math.prod(x.shape[d] for d in axes)
    total = sum(x, axis=axes, keepdims=keepdims, out=out)
    if count == 0:
        if isinstance(total, np.ndarray):
            total[...] = np.nan
            return total
        return np.float32(np.nan)
    if isinstance(total, np.ndarray):
        if count == 1:
            return total
        return binary(MULTIPLY, "mean", total, np.float32(1.0 / count), total)
    return np.float32(np.float64(total) / count)


def argmax(x: Any, axis: Optional[int] = None) -> Any:
    """Indices of the maxima along ``axis`` (first occurrence; NaN counts as the maximum)."""
    x = as_float32(x, "x")
    if axis is None:
        xc, outer, reduced, inner = np.ascontiguousarray(x).reshape(-1), 1, x.size, 1
        shape: Tuple[int, ...] = ()
    else:
        axes = normalize_axes(axis, x.ndim, "argmax")
        if len(axes) != 1:
            raise TypeError("argmax: axis must be an int or None")
        xc, outer, reduced, inner = _as_reduction_view(x, axes)
        shape = _reduced_shape(x.shape, axes, False)
    if reduced == 0:
        raise ValueError("attempt to get argmax of an empty sequence")
    result = np.empty(shape, np.int64)
    _C.argmax(xc, result, outer, reduced, inner)
    return result[()] if result.ndim == 0 else result


# ---- softmax and cross-entropy --------------------------------------------------------------

def softmax(x: Any, axis: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, the maximum subtracted first."""
    x = as_float32(x, "x")
    if x.ndim == 0:
        raise ValueError("softmax needs an array of at least 1 dimension")
    ax = normalize_axes(axis, x.ndim, "softmax")[0]
    if out is not None:
        check_out(out, x.shape)
    moved = x if ax == x.ndim - 1 else np.moveaxis(x, ax, -1)
    xc = np.ascontiguousarray(moved)
    k = xc.shape[-1]
    n = xc.size // k if k else 0
    if ax == x.ndim - 1 and out is not None and (out is x or not _overlaps(out, xc)
                                                 or _same_memory(out, xc)):
        _C.softmax(xc, out, n, k)
        return out
    result = np.empty(xc.shape, np.float32)
    _C.softmax(xc, result, n, k)
    if ax != x.ndim - 1:
        result = np.moveaxis(result, -1, ax)
    if out is None:
        return np.ascontiguousarray(result)
    out[...] = result
    return out


def softmax_cross_entropy(logits: Any, labels: Any,
                          reduction: str = "mean") -> Tuple[Any, np.ndarray]:
    """(loss, d mean / d logits) of softmax cross-entropy, in one fused pass."""
    if reduction not in ("mean", "none"):
        raise ValueError(f"softmax_cross_entropy: reduction must be 'mean' or 'none'; "
                         f"received {reduction!r}")
    z = np.ascontiguousarray(as_float32(logits, "logits"))
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"softmax_cross_entropy: logits must be 2-d (n, k) with k >= 1; "
                         f"received shape {z.shape}")
    n, k = z.shape
    y = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
    if y.dtype.kind not in REAL_KINDS:
        raise TypeError(f"softmax_cross_entropy: labels must be numeric; received dtype {y.dtype}")
    grad = np.empty((n, k), np.float32)
    rows = np.empty(n, np.float64) if reduction == "none" else None
    if y.shape == (n,):
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError("softmax_cross_entropy: float labels of shape (n,) must be "
                                 "integral class indices")
        if n:
            # Checked in the caller's dtype: converted first, uint64 labels >= 2**63 would wrap.
            bad = (y < 0) | (y >= k)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"softmax_cross_entropy: label {y[i].item()!r} at index {i} is "
                                 f"out of range [0, {k})")
        idx = np.require(y, np.int64, ["C", "A"])  # contiguous and aligned, copied if need be
        loss = _C.softmax_xent(z, idx, None, grad, rows)
    elif y.shape == (n, k):
        t = np.ascontiguousarray(as_float32(y, "labels"))
        loss = _C.softmax_xent(z, None, t, grad, rows)
    else:
        raise ValueError(f"softmax_cross_entropy: labels must have shape ({n},) (class indices) "
                         f"or ({n}, {k}) (probabilities) for logits of shape {z.shape}; "
                         f"received {y.shape}")
    if rows is not None:
        return rows.astype(np.float32), grad
    return float(loss), grad


def sigmoid_cross_entropy(logits: Any, targets: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(per-element loss, sigmoid(logits) - targets) of binary cross-entropy on logits, in its
    stable form max(z, 0) - z y + log(1 + exp(-|z|)), which overflows for no z."""
    z = as_float32(logits, "logits")
    y = as_float32(targets, "targets")
    if z.shape != y.shape:
        raise ValueError(f"sigmoid_cross_entropy: logits of shape {z.shape} and targets of "
                         f"shape {y.shape} differ")
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return loss.astype(np.float32, copy=False), unary(SIGMOID, z) - y


# ---- sparse rows -----------------------------------------------------------------------------

def is_scipy_sparse(x: Any) -> bool:
    """Whether x is a scipy.sparse matrix or array (without importing scipy)."""
    return type(x).__module__.startswith("scipy.sparse") and hasattr(x, "tocsr")


class SparseRows:
    """Rows of a sparse matrix in compressed sparse row form, as the dense kernels read them: a
    scipy.sparse input of ``fit``, ``evaluate`` or ``predict``, and each batch of it. Batches are
    row slices (``x[a:b]`` shares the arrays) or gathered rows (``x.take(rows)``); neither is
    ever densified. ``indptr``'s offsets are absolute into ``indices`` and ``data``.

    Args:
        indptr: int64 (n + 1,), row r's non-zeros at ``indptr[r]:indptr[r + 1]``.
        indices: int32 column indices.
        data: float32 values.
        n_cols: the number of columns.
    """

    __slots__ = ("indptr", "indices", "data", "shape")
    ndim = 2

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                 n_cols: int) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape = (len(indptr) - 1, int(n_cols))

    @classmethod
    def from_scipy(cls, m: Any, name: str) -> SparseRows:
        """A scipy.sparse matrix as SparseRows (one copy of what is not already int32 indices
        and float32 values; other formats than CSR are converted by scipy).

        Raises:
            TypeError: non-numeric values.
            ValueError: not 2-d, more columns than int32 indices reach, or a malformed matrix
                (offsets or column indices out of range).
        """
        if len(m.shape) != 2:
            raise ValueError(f"{name}: a sparse input must be 2-d (samples, features); "
                             f"received shape {m.shape}")
        if m.dtype.kind not in REAL_KINDS:
            raise TypeError(f"{name} must be numeric; received a sparse matrix of dtype {m.dtype}")
        if m.shape[1] > np.iinfo(np.int32).max:
            raise ValueError(f"{name}: {m.shape[1]} columns are more than a sparse input takes "
                             f"(2**31 - 1)")
        if m.format != "csr":
            m = m.tocsr()
        indptr = np.ascontiguousarray(m.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(m.indices, dtype=np.int32)
        data = np.ascontiguousarray(m.data, dtype=np.float32)
        nnz = len(indices)
        if len(indptr) != m.shape[0] + 1 or len(data) != nnz or (len(indptr) and (
                indptr[0] < 0 or indptr[-1] > nnz or np.any(np.diff(indptr) < 0))):
            raise ValueError(f"{name}: a malformed sparse matrix (its indptr does not fit its "
                             f"{nnz} stored values)")
        used = indices[indptr[0]:indptr[-1]]
        if used.size and (used.min() < 0 or used.max() >= m.shape[1]):
            raise ValueError(f"{name}: a malformed sparse matrix (column indices outside "
                             f"[0, {m.shape[1]}))")
        return cls(indptr, indices, data, m.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> SparseRows:
        if not isinstance(key, slice):
            raise TypeError("sparse rows are sliced by a slice of rows")
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            raise ValueError("sparse rows are sliced by contiguous rows")
        return SparseRows(self.indptr[start:max(start, stop) + 1], self.indices, self.data,
                          self.shape[1])

    def take(self, rows: np.ndarray) -> SparseRows:
        """The given rows, in that order, in new compact arrays."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        src = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1], dtype=np.int64)
        return SparseRows(indptr, self.indices[src], self.data[src], self.shape[1])

    def kernel_args(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, indices, data), the form the C++ kernels take."""
        return self.indptr, self.indices, self.data

    def __repr__(self) -> str:
        return (f"<SparseRows of shape {self.shape} with {self.indptr[-1] - self.indptr[0]} "
                f"stored values>")


# ---- dense, dropout, concatenation ----------------------------------------------------------

def _rows(x2: np.ndarray) -> np.ndarray:
    """A 2-d array whose rows the GEMM reads in place (contiguous, forward, not overlapping),
    else a contiguous copy."""
    d = x2.shape[1]
    if (x2.strides[1] == 4 or d <= 1) and x2.strides[0] >= 4 * d:
        return x2
    return np.ascontiguousarray(x2)


def dense(x: Any, kernel: Any, bias: Any, activation: str, bf16: bool = False) -> np.ndarray:
    """``activation(x @ kernel + bias)`` through the C++ dense kernel; x (..., D), or
    SparseRows (B, D) (multiplied in float32 whatever bf16 says: only its non-zeros are
    read). bf16: the GEMM on bfloat16 operands."""
    sparse = isinstance(x, SparseRows)
    if not sparse:
        x = as_float32(x, "x")
    kernel = np.ascontiguousarray(as_float32(kernel, "kernel"))
    if kernel.ndim != 2:
        raise ValueError(f"dense: the kernel must be 2-d (inputs, units); received shape "
                         f"{kernel.shape}")
    d, u = kernel.shape
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(f"dense: inputs of shape {x.shape} do not match a kernel of shape "
                         f"{kernel.shape} (the last axis must be {d})")
    b = None
    if bias is not None:
        b = np.ascontiguousarray(as_float32(bias, "bias"))
        if b.shape != (u,):
            raise ValueError(f"dense: the bias must have shape ({u},); received {b.shape}")
    if sparse:
        y = np.empty((x.shape[0], u), np.float32)
        _C.dense_forward_sparse(x.kernel_args(), kernel, b, y, DENSE_ACTIVATIONS[activation])
        return y
    x2 = _rows(x.reshape(math.prod(x.shape[:-1]), d) if x.ndim != 2 else x)
    y = np.empty((x2.shape[0], u), np.float32)
    _C.dense_forward(x2, kernel, b, y, DENSE_ACTIVATIONS[activation], bf16)
    return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (u,))


def dense_backward(dz: np.ndarray, x: Any, kernel: np.ndarray, want_x: bool, want_w: bool,
                   want_b: bool, bf16: bool = False) -> Tuple[Optional[np.ndarray], ...]:
    """(dx, dkernel, dbias) from dz, the gradient w.r.t. ``x @ kernel + bias`` (None where not
    wanted; always for SparseRows x, which is data); bf16 as for dense."""
    d, u = kernel.shape
    if isinstance(x, SparseRows):
        dw = np.empty((d, u), np.float32) if want_w else None
        db = np.empty(u, np.float32) if want_b else None
        _C.dense_backward_sparse(np.ascontiguousarray(dz, dtype=np.float32), x.kernel_args(), dw,
                                 db, d)
        return None, dw, db
    x2 = _rows(x.reshape(-1, d))
    dz2 = np.ascontiguousarray(dz.reshape(-1, u))
    dx = np.empty(x2.shape, np.float32) if want_x else None
    dw = np.empty((d, u), np.float32) if want_w else None
    db = np.empty(u, np.float32) if want_b else None
    _C.dense_backward(dz2, x2, np.ascontiguousarray(kernel), dx, dw, db, bf16)
    return (None if dx is None else dx.reshape(x.shape)), dw, db


def dropout(x: Any, rate: float, seed: int, counter: int) -> Tuple[np.ndarray, np.ndarray]:
    """(x * mask, mask): the mask of call ``counter`` of a layer seeded with ``seed``, the one
    the compiled program draws for the same call."""
    x = np.ascontiguousarray(as_float32(x, "x"))
    y = np.empty(x.shape, np.float32)
    mask = np.empty(x.shape, np.float32)
    _C.dropout_forward(x, y, mask, rate, seed, counter)
    return y, mask


def concatenate(xs: Sequence[Any], axis: int = -1) -> np.ndarray:
    """The arrays joined along ``axis`` (numpy's)."""
    arrays: List[np.ndarray] = [as_float32(x, f"input {i}") for i, x in enumerate(xs)]
    if not arrays:
        raise ValueError("concatenate needs at least one array")
    try:
        return np.concatenate(arrays, axis=axis)
    except ValueError as e:  # numpy's AxisError is one too
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"concatenate along axis {axis}: shapes {shapes} do not fit "
                         f"({e})") from None


# ---- optimizer updates ----------------------------------------------------------------------

# These updates follow Keras 3's optimizers (keras/src/optimizers/*.py) operation by operation, in
# float32. Each is one fused pass of the C++ kernel over flat buffers: param and every state slot
# must already be float32 and C-contiguous (they are written in place, so no converted copy can
# stand in for them); grad is converted like any op input. The checks below run at every step,
# so they stay cheap; memory overlap is checked exactly in the binding (pointer ranges): buffers
# the update writes must be distinct (ValueError), and a grad aliasing one of them is copied.

_REAL_SCALARS = (int, float, np.integer, np.floating)
_FLOAT32 = np.dtype(np.float32)


def _hyper(value: Any, name: str, *, high: Optional[float] = None,
           high_open: bool = False) -> float:
    """A finite real hyper-parameter >= 0 (and <= high, or < high when ``high_open``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _REAL_SCALARS):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    v = float(value)
    if high is None:
        # v - v is 0 for finite v and nan for inf; nan fails every comparison.
        ok, wanted = v >= 0.0 and v - v == 0.0, "a finite float >= 0"
    elif high_open:
        ok, wanted = 0.0 <= v < high, f"a float in [0, {high:g})"
    else:
        ok, wanted = 0.0 <= v <= high, f"a float in [0, {high:g}]"
    if not ok:
        raise ValueError(f"`{name}` must be {wanted}. Received: {name}={value!r}")
    return v


def _check_buffer(arr: Any, name: str, shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    """An array updated in place: float32, C-contiguous, writeable, aligned; a slot has param's
    shape."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy float32 array (it is updated in place); "
                        f"received {type(arr).__name__}")
    if arr.dtype != _FLOAT32:
        raise TypeError(f"{name} must have dtype float32 (it is updated in place); "
                        f"received dtype {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape} but param has shape {shape}; "
                         f"optimizer state must have the shape of its parameter")
    flags = arr.flags
    if not flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not flags.writeable:
        raise ValueError(f"{name} is read-only")
    if not flags.aligned:  # updated in place by whole-float loads and stores
        raise ValueError(f"{name} must be aligned to 4 bytes (its data starts mid-float)")
    return arr


def _update_buffers(param: Any, grad: Any, **slots: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate param and the state slots (None = unused); return (param, float32 grad).

    grad becomes a C-contiguous float32 array of param's shape.
    """
    param = _check_buffer(param, "param")
    for name, slot in slots.items():
        if slot is not None:
            _check_buffer(slot, name, param.shape)
    g = as_float32(grad, "grad")
    if g.shape != param.shape:
        raise ValueError(f"grad has shape {g.shape} but param has shape {param.shape}")
    # Not np.ascontiguousarray: it makes a 0-d gradient 1-d.
    return param, g if g.flags.c_contiguous else np.array(g, order="C")


def sgd_update(
    param: np.ndarray,
    grad: Any,
    velocity: Optional[np.ndarray] = None,
    *,
    learning_rate: float = 0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One in-place step of gradient descent with optional (Nesterov) momentum, as Keras' SGD.

    With ``momentum == 0``::

        param = param - learning_rate * grad

    otherwise::

        velocity = momentum * velocity - learning_rate * grad
        param = param + velocity                                      # nesterov=False
        param = param + momentum * velocity - learning_rate * grad    # nesterov=True

    Args:
        param: float32 C-contiguous writeable array, updated in place.
        grad: gradient of the loss with respect to ``param``, same shape, any real dtype/layout.
        velocity: float32 array of ``param``'s shape (start it at zeros), updated in place;
            required when ``momentum != 0``, left untouched otherwise.
        learning_rate: float >= 0. Defaults to 0.01.
        momentum: float in [0, 1]; 0 is plain gradient descent. Defaults to 0.0.
        nesterov: whether to apply Nesterov momentum. Defaults to False.

    Returns:
        None; ``param`` (and ``velocity``) are updated in place.

    Raises:
        TypeError: an array that is not float32 numpy, a non-numeric grad or hyper-parameter.
        ValueError: mismatched shapes, non-contiguous or read-only arrays, arrays sharing memory,
            an out-of-range hyper-parameter, or momentum != 0 without ``velocity``.
    """
    learning_rate = _hyper(learning_rate, "learning_rate")
    momentum = _hyper(momentum, "momentum", high=1.0)
    if momentum != 0.0 and velocity is None:
        raise ValueError(f"sgd_update needs a velocity array when momentum != 0. "
                         f"Received: momentum={momentum!r}, velocity=None")
    param, g = _update_buffers(param, grad, velocity=velocity)
    if param.size:
        _C.sgd_update(param, g, velocity, learning_rate, momentum, bool(nesterov))


def rmsprop_update(
    param: np.ndarray,
    grad: Any,
    velocity: np.ndarray,
    momentum_buffer: Optional[np.ndarray] = None,
    *,
    learning_rate: float = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
) -> None:
    """One in-place RMSprop step (Hinton, 2012), as Keras' RMSprop (not centered).

    Epsilon sits inside the square root, as in Keras::

        velocity = rho * velocity + (1 - rho) * grad**2
        increment = learning_rate * grad / sqrt(velocity + epsilon)
        momentum_buffer = momentum * momentum_buffer + increment       # momentum > 0
        param = param - momentum_buffer                                # momentum > 0
        param = param - increment                                      # momentum == 0

    Args:
        param: float32 C-contiguous writeable array, updated in place.
        grad: gradient of the loss with respect to ``param``, same shape, any real dtype/layout.
        velocity: float32 array of ``param``'s shape (start it at zeros), updated in place.
        momentum_buffer: float32 array of ``param``'s shape (start it at zeros), updated in
            place; required when ``momentum > 0``, left untouched otherwise.
        learning_rate: float >= 0. Defaults to 0.001.
        rho: discounting factor for the old squared gradients, in [0, 1). Defaults to 0.9.
        momentum: float in [0, 1]. Defaults to 0.0.
        epsilon: small float >= 0 added to ``velocity`` under the square root. Defaults to 1e-7.

    Returns:
        None; ``param`` and the state arrays are updated in place.

    Raises:
        TypeError: an array that is not float32 numpy, a non-numeric grad or hyper-parameter.
        ValueError: mismatched shapes, non-contiguous or read-only arrays, arrays sharing memory,
            an out-of-range hyper-parameter, or momentum > 0 without ``momentum_buffer``.
    """
    learning_rate = _hyper(learning_rate, "learning_rate")
    rho = _hyper(rho, "rho", high=1.0, high_open=True)
    momentum = _hyper(momentum, "momentum", high=1.0)
    epsilon = _hyper(epsilon, "epsilon")
    if momentum > 0.0 and momentum_buffer is None:
        raise ValueError(f"rmsprop_update needs a momentum_buffer array when momentum > 0. "
                         f"Received: momentum={momentum!r}, momentum_buffer=None")
    if velocity is None:
        raise ValueError("rmsprop_update needs a velocity array (start it at zeros)")
    param, g = _update_buffers(param, grad, velocity=velocity, momentum_buffer=momentum_buffer)
    if param.size:
        _C.rmsprop_update(param, g, velocity, momentum_buffer, learning_rate, rho, momentum,
                          epsilon)


def adagrad_update(
    param: np.ndarray,
    grad: Any,
    accumulator: np.ndarray,
    *,
    learning_rate: float = 0.001,
    epsilon: float = 1e-7,
) -> None:
    """One in-place Adagrad step (Duchi et al., 2011), as Keras' Adagrad::

        accumulator = accumulator + grad**2
        param = param - learning_rate * grad / sqrt(accumulator + epsilon)

    Keras starts the accumulator at ``initial_accumulator_value=0.1``; do the same, e.g.
    ``accumulator = np.full_like(param, 0.1)``, before the first step.

    Args:
        param: float32 C-contiguous writeable array, updated in place.
        grad: gradient of the loss with respect to ``param``, same shape, any real dtype/layout.
        accumulator: float32 array of ``param``'s shape, updated in place.
        learning_rate: float >= 0. Defaults to 0.001.
        epsilon: small float >= 0 added under the square root. Defaults to 1e-7.

    Returns:
        None; ``param`` and ``accumulator`` are updated in place.

    Raises:
        TypeError: an array that is not float32 numpy, a non-numeric grad or hyper-parameter.
        ValueError: mismatched shapes, non-contiguous or read-only arrays, arrays sharing memory,
            or an out-of-range hyper-parameter.
    """
    learning_rate = _hyper(learning_rate, "learning_rate")
    epsilon = _hyper(epsilon, "epsilon")
    if accumulator is None:
        raise ValueError("adagrad_update needs an accumulator array (start it at 0.1)")
    param, g = _update_buffers(param, grad, accumulator=accumulator)
    if param.size:
        _C.adagrad_update(param, g, accumulator, learning_rate, epsilon)


def adam_update(
    param: np.ndarray,
    grad: Any,
    m: np.ndarray,
    v: np.ndarray,
    *,
    step: int,
    learning_rate: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> None:
    """One in-place Adam step (Kingma & Ba, 2014), as Keras' Adam (without amsgrad).

    The bias correction is folded into the step size, computed in float64 for the 1-based
    ``step`` t and rounded once to float32::

        alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (grad - m) * (1 - beta_1)
        v = v + (grad**2 - v) * (1 - beta_2)
        param = param - alpha * m / (sqrt(v) + epsilon)

    Args:
        param: float32 C-contiguous writeable array, updated in place.
        grad: gradient of the loss with respect to ``param``, same shape, any real dtype/layout.
        m: first-moment float32 array of ``param``'s shape (start at zeros), updated in place.
        v: second-moment float32 array of ``param``'s shape (start at zeros), updated in place.
        step: the 1-based number of this update (Keras' ``iterations + 1``), an int >= 1.
        learning_rate: float >= 0. Defaults to 0.001.
        beta_1: decay rate of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay rate of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: small float >= 0 added to ``sqrt(v)`` ("epsilon hat"). Defaults to 1e-7.

    Returns:
        None; ``param``, ``m`` and ``v`` are updated in place.

    Raises:
        TypeError: an array that is not float32 numpy, a non-numeric grad or hyper-parameter.
        ValueError: mismatched shapes, non-contiguous or read-only arrays, arrays sharing memory,
            an out-of-range hyper-parameter, or a step that is not an integer >= 1.
    """
    if (isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer))
            or not 1 <= step < 2**63):
        raise ValueError(f"`step` must be an integer >= 1 (the 1-based update count). "
                         f"Received: step={step!r}")
    learning_rate = _hyper(learning_rate, "learning_rate")
    beta_1 = _hyper(beta_1, "beta_1", high=1.0, high_open=True)
    beta_2 = _hyper(beta_2, "beta_2", high=1.0, high_open=True)
    epsilon = _hyper(epsilon, "epsilon")
    if m is None or v is None:
        raise ValueError("adam_update needs both moment arrays m and v (start them at zeros)")
    param, g = _update_buffers(param, grad, m=m, v=v)
    if param.size:
        _C.adam_update(param, g, m, v, int(step), learning_rate, beta_1, beta_2, epsilon)
