"""Tensor operations on float32 numpy arrays, computed by fastnn's C++ kernels.

Every op accepts numpy arrays (or anything ``np.asarray`` takes) of a real dtype: float32
C-contiguous arrays are used without a copy, other real dtypes are converted to float32, and
strided views are read through their strides where the kernel can. Results are float32.
``out=`` must be a float32, C-contiguous array of the result's shape. Bad input raises a
``ValueError`` or ``TypeError`` that names the problem.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _C

__all__: list[str] = []

_REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_F32 = np.dtype(np.float32)  # native float32; numpy reuses this instance for every such array


def _as_float32(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32 ndarray, copying only when the dtype (or a byte-odd stride) needs it."""
    # Fast path first: ops are called per batch, so a few hundred nanoseconds count.
    if type(x) is np.ndarray and x.dtype is _F32 and x.flags.aligned:
        return x
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind not in _REAL_KINDS:
        raise TypeError(
            f"{name} must be an array of real numbers (bool, int or float); "
            f"received dtype {arr.dtype}"
        )
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    elif any(s % 4 for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    return arr


def _check_out(out: Any, shape: tuple[int, ...], name: str = "out") -> np.ndarray:
    """Validate a caller's ``out`` array: float32, C-contiguous, writeable, exactly ``shape``."""
    if type(out) is np.ndarray and out.dtype is _F32 and out.shape == shape:
        flags = out.flags
        if flags.c_contiguous and flags.writeable:
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
    return out


def _overlaps(out: np.ndarray, *inputs: np.ndarray) -> bool:
    return any(np.may_share_memory(out, x) for x in inputs)


# ---- matmul ---------------------------------------------------------------------------------

__all__ += ["matmul"]


def matmul(
    a: Any,
    b: Any,
    *,
    out: Optional[np.ndarray] = None,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
) -> np.ndarray:
    """General matrix product ``alpha * op(a) @ op(b) + beta * out`` (a float32 GEMM).

    ``op(x)`` is ``x.T`` when the matching ``trans_*`` flag is set; no transpose is materialised.
    Without flags it follows ``np.dot`` for an N-d ``a`` and a 2-d (or 1-d) ``b``:
    ``(p, q, r, d) . (d, e) -> (p, q, r, e)``.

    Args:
        a: array of shape (..., d), or (m, k) / (k, m) with ``trans_a``.
        b: array of shape (d, e) or (d,); with ``trans_b`` a 2-d (e, d).
        out: optional float32 C-contiguous result array; with ``beta != 0`` its contents are
            the C of ``alpha * A @ B + beta * C``.
        trans_a, trans_b: use the transpose of ``a`` / ``b`` (2-d operands only).
        alpha, beta: scalars of the GEMM. ``beta`` needs ``out``.

    Returns:
        The float32 product (``out`` itself when given).

    Raises:
        ValueError: mismatched inner dimensions, wrong ndim, ``beta`` without ``out``, bad ``out``.
        TypeError: non-numeric inputs or an ``out`` that is not float32.
    """
    a = _as_float32(a, "a")
    b = _as_float32(b, "b")
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
        a2 = a.reshape(-1, d)
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
        _C.sgemm(a2, b2, c, trans_a, trans_b, alpha, 0.0)
        return c if c.shape == result_shape else c.reshape(result_shape)

    _check_out(out, result_shape)
    c = out if out.shape == (m, n) else out.reshape(m, n)
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        # The kernel reads a and b while writing out: compute into a copy first.
        tmp = c.copy() if beta != 0.0 else np.empty_like(c)
        _C.sgemm(a2, b2, tmp, trans_a, trans_b, alpha, beta)
        c[...] = tmp
    else:
        _C.sgemm(a2, b2, c, trans_a, trans_b, alpha, beta)
    return out


# ---- element-wise ---------------------------------------------------------------------------

# ---- reductions -----------------------------------------------------------------------------

# ---- softmax and cross-entropy --------------------------------------------------------------

# ---- optimizer updates ----------------------------------------------------------------------
