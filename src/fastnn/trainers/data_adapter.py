"""From what ``fit``, ``evaluate`` and ``predict`` are given (arrays, lists of arrays, dicts by
input or output name) to one float32 array per model input and the targets and sample weights
of each output, checked once, before any batch runs. A scipy.sparse input becomes SparseRows,
which batches slice and gather without densifying."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import losses
from .._backend import SparseRows, is_scipy_sparse
from .compile_utils import OutputSpec

__all__ = ["Dataset", "inputs", "targets", "sample_weights", "InputArray"]

# A model input's data: a float32 array, or the rows of a sparse matrix.
InputArray = Union[np.ndarray, SparseRows]


def _numeric(x: Any, what: str) -> np.ndarray:
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric; received dtype {arr.dtype}")
    return arr


def _structure(value: Any, names: List[str], what: str, partial: bool = False) -> List[Any]:
    """``value`` (one array, a list in order, or a dict by name) as a list aligned with names;
    with ``partial`` a dict may leave names out (None)."""
    kind = "inputs" if " x" in what else "outputs"
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown or (not partial and len(value) != len(names)):
            raise ValueError(f"{what}: the dict's keys {sorted(value)} must be the model's "
                             f"{kind[:-1]} names {names}")
        return [value.get(n) for n in names]
    if len(names) == 1:
        # [array] is a list of one array; any other list is the data itself (nested numbers).
        if isinstance(value, (list, tuple)) and len(value) == 1 and \
                isinstance(value[0], np.ndarray):
            return [value[0]]
        return [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        count = len(value) if isinstance(value, (list, tuple)) else 1
        raise ValueError(f"{what}: the model has {len(names)} {kind} ({', '.join(names)}); "
                         f"received {count} array(s): give a list of {len(names)} or a dict by "
                         f"name")
    return list(value)


def inputs(x: Any, names: List[str], shapes: Optional[List[Tuple[Optional[int], ...]]],
           what: str) -> List[InputArray]:
    """One C-contiguous float32 array per model input (SparseRows for a scipy.sparse matrix),
    each with a batch axis, all of one length, of the input's per-sample shape when the model
    knows it.

    Raises:
        TypeError: non-numeric data.
        ValueError: the wrong number of arrays, lengths that differ, no batch axis, a
            per-sample shape the model does not take, or a malformed sparse matrix.
    """
    if x is None:
        raise ValueError(f"{what}: x is required")
    arrays: List[InputArray] = []
    for i, item in enumerate(_structure(x, names, f"{what} x")):
        label = "x" if len(names) == 1 else f"x[{names[i]!r}]"
        if isinstance(item, SparseRows) or is_scipy_sparse(item):
            arrays.append(item if isinstance(item, SparseRows)
                          else SparseRows.from_scipy(item, f"{what}: {label}"))
            continue
        arr = _numeric(item, label)
        if arr.ndim < 2:
            raise ValueError(f"{what}: x must have a batch axis and features, e.g. (n, 784); "
                             f"received shape {arr.shape}")
        arrays.append(np.ascontiguousarray(arr, dtype=np.float32))
    n = len(arrays[0])
    if any(len(a) != n for a in arrays[1:]):
        raise ValueError(f"{what}: the inputs have different numbers of samples: "
                         f"{[len(a) for a in arrays]}")
    if shapes is not None:
        for given, shape in zip(arrays, shapes):
            want = shape[1:]
            if len(want) != given.ndim - 1 or any(w is not None and w != g
                                                  for w, g in zip(want, given.shape[1:])):
                raise ValueError(f"{what}: the model expects inputs of shape {shape}; received "
                                 f"{given.shape}")
    return arrays


def targets(y: Any, outputs: List[OutputSpec], n: int, what: str) -> List[Optional[np.ndarray]]:
    """Each output's targets: int64 class indices (n,) for sparse categorical cross-entropy,
    else float32 of shape (n, *output shape), C-contiguous; None for an output without a loss
    and without targets.

    Raises:
        TypeError: non-numeric targets.
        ValueError: a count that differs from x's, labels out of range (the first named), or
            targets shaped unlike the output (both shapes named).
    """
    names = [o.name for o in outputs]
    given = ([None] * len(outputs) if y is None
             else _structure(y, names, f"{what} y", partial=True))
    out: List[Optional[np.ndarray]] = []
    for o, item in zip(outputs, given):
        if item is None:
            if o.loss is not None:
                raise ValueError(f"{what}: the output '{o.name}' has a loss but no targets were "
                                 f"given")
            out.append(None)
            continue
        arr = _numeric(item, "y" if len(outputs) == 1 else f"y[{o.name!r}]")
        if len(arr) != n:
            raise ValueError(f"{what}: x and y have different numbers of samples: {n} and "
                             f"{len(arr)}")
        out.append(_target_array(arr, o, what))
    return out


def _target_array(y: np.ndarray, o: OutputSpec, what: str) -> np.ndarray:
    n = len(y)
    shape = tuple(o.shape[1:])
    if o.sparse:
        return losses.sparse_labels(y, n, o.width)
    if o.loss == "categorical_crossentropy" and (y.ndim != 2 or y.shape[1:] != shape):
        raise ValueError(f"{what}: categorical_crossentropy needs one-hot targets of shape "
                         f"{(n,) + shape}; received {y.shape}. For integer labels use "
                         f"loss='sparse_categorical_crossentropy' or utils.to_categorical")
    if y.shape[1:] != shape:
        if shape == (1,) and y.ndim == 1:
            y = y.reshape(n, 1)
        elif isinstance(o.loss, str):
            raise ValueError(f"{what}: {o.loss} needs targets shaped like the model's output, "
                             f"{(n,) + shape}; received {y.shape}")
    return np.ascontiguousarray(y, dtype=np.float32)


def sample_weights(sample_weight: Any, class_weight: Optional[Dict[Any, float]],
                   outputs: List[OutputSpec], ys: List[Optional[np.ndarray]], n: int,
                   what: str) -> List[Optional[np.ndarray]]:
    """Each output's float32 (n,) sample weights (None: all 1). One array applies to every
    output; ``class_weight`` (one output only) multiplies in the weight of each sample's class.

    Raises:
        ValueError: weights of the wrong length or not 1-d, or class_weight for a model with
            several outputs or missing a class that occurs.
    """
    names = [o.name for o in outputs]
    if sample_weight is None:
        given: List[Any] = [None] * len(outputs)
    elif isinstance(sample_weight, (dict, list, tuple)) and len(outputs) > 1:
        given = _structure(sample_weight, names, f"{what} sample_weight")
    else:
        given = [sample_weight] * len(outputs)
    out: List[Optional[np.ndarray]] = []
    for item in given:
        if item is None:
            out.append(None)
            continue
        w = _numeric(item, "sample_weight").astype(np.float32)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        if w.shape != (n,):
            raise ValueError(f"{what}: sample_weight must have shape ({n},); received {w.shape}")
        out.append(np.ascontiguousarray(w))
    if class_weight is not None:
        if len(outputs) != 1:
            raise ValueError(f"{what}: class_weight works for models with one output; this one "
                             f"has {len(outputs)} (use sample_weight per output)")
        y = ys[0]
        if y is None:
            raise ValueError(f"{what}: class_weight needs targets")
        classes = y if y.ndim == 1 else (np.argmax(y, axis=-1) if y.shape[-1] > 1
                                         else np.round(y[:, 0]).astype(np.int64))
        table = {int(k): float(v) for k, v in class_weight.items()}
        missing = sorted(set(np.unique(classes).tolist()) - set(table))
        if missing:
            raise ValueError(f"{what}: class_weight has no weight for the classes {missing}")
        weights = np.array([table[int(c)] for c in classes], np.float32)
        out[0] = weights if out[0] is None else out[0] * weights
    return out


class Dataset:
    """A dataset aligned by rows: one array per model input, and per output its targets and
    sample weights (None where absent).

    Args:
        x: the inputs' arrays.
        y: the outputs' targets.
        sample_weight: the outputs' sample weights.
    """

    def __init__(self, x: List[InputArray], y: List[Optional[np.ndarray]],
                 sample_weight: List[Optional[np.ndarray]]) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = len(x[0])

    def split(self, fraction: float) -> Tuple[Dataset, Dataset]:
        """(training, validation): the last ``fraction`` of the rows is held out, before any
        shuffling (Keras' rule).

        Raises:
            ValueError: a fraction outside [0, 1), or one that leaves either part empty.
        """
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_split must be in [0, 1). Received: {fraction}")
        cut = int(self.n * (1.0 - fraction))
        if cut == 0 or cut == self.n:
            raise ValueError(f"validation_split={fraction} leaves no training or no validation "
                             f"samples out of {self.n}")

        def part(arrays: List[Any], sl: slice) -> List[Any]:
            return [None if a is None else a[sl] for a in arrays]
        head, tail = slice(0, cut), slice(cut, None)
        return (Dataset(part(self.x, head), part(self.y, head), part(self.sample_weight, head)),
                Dataset(part(self.x, tail), part(self.y, tail), part(self.sample_weight, tail)))
