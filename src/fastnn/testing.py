"""Testing helpers: a numerical gradient check for anything with an analytic backward, and the
list of fastnn's public modules (for tests and docs that must cover the whole API)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["gradcheck", "public_modules"]


#: The public modules that need an optional dependency, and the extra that installs it.
OPTIONAL_MODULES = {"fastnn.wrappers": "sklearn"}


def public_modules() -> List[str]:
    """The names of fastnn's public modules: ``fastnn`` and every module reachable from it
    through the ``__all__`` lists (``fastnn.ops``, ``fastnn.datasets.mnist``, ...).

    A module whose optional dependency is not installed (``fastnn.wrappers`` without
    scikit-learn) is left out.

    Returns:
        Module names, ``"fastnn"`` first, each once.
    """
    found, queue = [], ["fastnn"]
    while queue:
        name = queue.pop(0)
        found.append(name)
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            try:
                value = getattr(module, attr)
            except ImportError:
                if f"{name}.{attr}" in OPTIONAL_MODULES:
                    continue
                raise
            if inspect.ismodule(value) and value.__name__ not in found + queue:
                queue.append(value.__name__)
    return found


def gradcheck(fn: Callable[..., Tuple[Any, Sequence[Optional[np.ndarray]]]],
              inputs: Sequence[np.ndarray], *, eps: float = 1e-2, rtol: float = 2e-2,
              atol: float = 1e-3, wrt: Optional[Sequence[int]] = None) -> bool:
    """Checks analytic gradients against central finite differences taken in float64.

    ``fn(*inputs)`` returns ``(value, grads)``: a scalar and, for each input, the analytic
    gradient of the value with respect to it (same shape; None for inputs not checked; for a
    single input the gradient array alone will do). Every
    element of each checked input is moved by ``+eps`` and ``-eps`` in turn (the input keeps its
    dtype, so float32 kernels run as they do in training), and ``(f(x+eps) - f(x-eps)) / 2eps``
    is accumulated in float64. The finite difference of a float32 function carries about
    ``1e-7 * |f| / eps`` of rounding noise: the defaults suit values of order 1.

    Args:
        fn: the function under test, returning the value and the analytic gradients.
        inputs: numpy arrays; the ones checked are perturbed in place and restored.
        eps: the step of the finite difference.
        rtol, atol: the allowed difference, ``atol + rtol * |numeric|`` element by element.
        wrt: indices of the inputs to check (default: every input with a gradient).

    Returns:
        True when every checked gradient agrees.

    Raises:
        AssertionError: naming the input, the worst element, both values and the tolerance.
        ValueError: a gradient whose shape differs from its input's, or a non-scalar value.
    """
    inputs = list(inputs)
    value, grads = fn(*inputs)
    if np.ndim(value) != 0:
        raise ValueError(f"gradcheck: fn must return a scalar value; it returned shape {np.shape(value)}")
    grads = [grads] if isinstance(grads, np.ndarray) and len(inputs) == 1 else list(grads)
    if len(grads) != len(inputs):
        raise ValueError(f"gradcheck: fn returned {len(grads)} gradients for {len(inputs)} inputs")
    analytic: List[Optional[np.ndarray]] = [
        None if g is None else np.array(g, dtype=np.float64, copy=True) for g in grads]
    checked = [i for i, g in enumerate(analytic) if g is not None] if wrt is None else list(wrt)
    for i in checked:
        x, g = inputs[i], analytic[i]
        if g is None:
            raise ValueError(f"gradcheck: fn returned no gradient for input {i}")
        if g.shape != np.shape(x):
            raise ValueError(f"gradcheck: the gradient of input {i} has shape {g.shape}; the input "
                             f"has shape {np.shape(x)}")
        numeric = np.empty(g.shape, np.float64)
        flat = x.reshape(-1)  # a view: x must be contiguous, which reshape(-1) checks below
        if not np.shares_memory(flat, x) and x.size:
            raise ValueError(f"gradcheck: input {i} must be a contiguous array")
        for k in range(flat.size):
            keep = flat[k].copy()
            flat[k] = keep + eps
            up = float(fn(*inputs)[0])
            flat[k] = keep - eps
            down = float(fn(*inputs)[0])
            flat[k] = keep
            numeric.reshape(-1)[k] = (up - down) / (2.0 * eps)
        excess = np.abs(g - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and (excess.max() > 0 or not np.all(np.isfinite(g))):
            worst = np.where(np.isfinite(excess), excess, np.inf)
            at = tuple(int(j) for j in np.unravel_index(int(np.nanargmax(worst)), g.shape))
            raise AssertionError(
                f"gradcheck: input {i} (shape {g.shape}) at index {at}: "
                f"analytic {g[at]:.6g}, numeric {numeric[at]:.6g} (allowed difference "
                f"{atol + rtol * abs(numeric[at]):.3g}); {int((excess > 0).sum())} of {g.size} "
                f"elements disagree")
    return True
