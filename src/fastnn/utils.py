"""Small helpers from Keras: one-hot labels, a global random seed, and for text: padding
sequences, multi-hot rows and row normalisation."""

from __future__ import annotations

import contextlib
import itertools
import operator
import os
import random
import threading
from typing import Any, Iterator, Optional, Sequence, Tuple

import numpy as np

__all__ = ["to_categorical", "set_random_seed", "get_rng", "seeded_rng", "pad_sequences",
           "multi_hot", "normalize"]

_rng = np.random.default_rng()
# A generator of the calling thread's own, while seeded_rng runs: fits that run at once in
# threads (a scikit-learn search) each repeat exactly, whatever the others draw.
_local = threading.local()


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: Any = "float32") -> np.ndarray:
    """Integer class labels to one-hot rows, like ``keras.utils.to_categorical``.

    Args:
        y: integer labels of any shape (a trailing axis of size 1 is dropped, as in Keras).
        num_classes: number of classes; default ``max(y) + 1``.
        dtype: dtype of the result (float32 by default).

    Returns:
        An array of shape ``y.shape + (num_classes,)``.

    Raises:
        ValueError: negative labels, labels >= num_classes, or non-integral values.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical expects integer class labels; received "
                             "non-integral values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical expects integer class labels; received dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0; received {int(y.min())}")
    top = int(y.max()) + 1 if y.size else 0
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"to_categorical: label {top - 1} is out of range for "
                         f"num_classes={num_classes}")
    try:
        out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    except (ValueError, MemoryError):
        raise ValueError(f"to_categorical: {y.size} labels of {num_classes} classes do not fit in "
                         f"memory (labels go up to {top - 1})") from None
    np.put_along_axis(out, y[..., None].astype(np.int64), 1, axis=-1)
    return out


def pad_sequences(sequences: Sequence[Any], maxlen: Optional[int] = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pads (or truncates) sequences to one length, as ``keras.utils.pad_sequences`` does.

    Each sequence longer than ``maxlen`` loses its first items (``truncating='pre'``) or its last
    (``'post'``); each shorter one is filled with ``value`` before (``padding='pre'``) or after
    (``'post'``). Items may themselves be arrays, all of the first non-empty item's shape.

    Args:
        sequences: a list (or any sized iterable) of sequences: lists, tuples, arrays.
        maxlen: the length of every row. Defaults to None: the longest sequence's (0 for no
            sequences or only empty ones).
        dtype: the result's dtype, a numpy dtype or its name. Defaults to ``'int32'``; a string
            dtype (or ``object``) for sequences of strings.
        padding: ``'pre'`` or ``'post'``: where the padding goes. Defaults to ``'pre'``.
        truncating: ``'pre'`` or ``'post'``: which end a long sequence loses. Defaults to
            ``'pre'``.
        value: the padding value. Defaults to 0.0 (0 in an integer result).

    Returns:
        An array of shape ``(len(sequences), maxlen) + item_shape``.

    Raises:
        ValueError: padding or truncating not ``'pre'``/``'post'``, a negative maxlen, an item
            that is not a sequence, items of different shapes, or a string value with a
            numeric dtype.
        TypeError: maxlen is not an integer.
    """
    for name, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post'. "
                             f"Received: {name}={given!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences expects a list of sequences. Received: "
                         f"{type(sequences).__name__}")
    lengths = []
    item_shape: Optional[Tuple[int, ...]] = None
    for i, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"pad_sequences: sequence {i} is a {type(sequence).__name__}, not "
                             f"a sequence") from None
        if item_shape is None and lengths[-1]:
            item_shape = np.asarray(sequence).shape[1:]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    else:
        try:
            maxlen = operator.index(maxlen)
        except TypeError:
            raise TypeError(f"pad_sequences: maxlen must be an integer or None. "
                            f"Received: maxlen={maxlen!r}") from None
        if maxlen < 0:
            raise ValueError(f"pad_sequences: maxlen must be >= 0. Received: maxlen={maxlen}")
    strings = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and not strings and np.dtype(dtype) != object:
        raise ValueError(f"pad_sequences: a string value ({value!r}) needs a string dtype or "
                         f"dtype=object (for strings of any length). Received: dtype={dtype}")
    item_shape = item_shape or ()
    out = np.full((len(lengths), maxlen) + item_shape, value, dtype=dtype)
    if maxlen == 0:  # (n, 0): and s[-0:] would be the whole sequence
        return out
    for i, sequence in enumerate(sequences):
        if not lengths[i]:
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen],
                          dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"pad_sequences: the items of sequence {i} have shape "
                             f"{kept.shape[1:]}; the first non-empty sequence's have "
                             f"{item_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out


def multi_hot(sequences: Sequence[Any], num_words: int, dtype: Any = "float32",
              sparse: bool = False) -> Any:
    """One row per sequence with a 1 at each index it holds: the book's ``vectorize_sequences``
    (``results[i, sequence] = 1.``), as a dense array or a scipy CSR matrix.

    Args:
        sequences: a list of sequences of integer indices (lists, tuples, arrays; an object
            array of lists as ``imdb.load_data`` returns), or a 2-d integer array.
        num_words: the number of columns; every index must lie in ``[0, num_words)``.
        dtype: the dtype of the result. Defaults to ``'float32'``.
        sparse: return a ``scipy.sparse.csr_matrix`` (sorted indices, no duplicates, data all
            ones of ``dtype``), which needs scipy. Defaults to False: a dense array.

    Returns:
        An array or CSR matrix of shape ``(len(sequences), num_words)``.

    Raises:
        ValueError: an index outside ``[0, num_words)`` or not an integer (the message names
            the sequence), or a negative num_words.
        TypeError: num_words is not an integer.
        ImportError: ``sparse=True`` without scipy installed.
    """
    try:
        num_words = operator.index(num_words)
    except TypeError:
        raise TypeError(f"multi_hot: num_words must be an integer. "
                        f"Received: num_words={num_words!r}") from None
    if num_words < 0:
        raise ValueError(f"multi_hot: num_words must be >= 0. Received: num_words={num_words}")
    rows, columns = _indices_by_row(sequences)
    n = len(sequences)
    outside = (columns < 0) | (columns >= num_words)
    if outside.any():
        first = int(np.argmax(outside))
        raise ValueError(f"multi_hot: sequence {int(rows[first])} holds index "
                         f"{int(columns[first])}, outside [0, num_words={num_words})")
    if not sparse:
        out = np.zeros((n, num_words), dtype=dtype)
        out[rows, columns] = 1
        return out
    try:
        import scipy.sparse
    except ImportError:
        raise ImportError('multi_hot(sparse=True) needs scipy: pip install "fastnn[scipy]" '
                          '(or pip install scipy)') from None
    if n * num_words < 2**63:  # one int64 key per (row, column): one sort orders both
        keys = rows * num_words + columns
        keys.sort()
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys
        rows, columns = np.divmod(keys, max(num_words, 1))
    else:
        order = np.lexsort((columns, rows))
        rows, columns = rows[order], columns[order]
        new = np.concatenate(([True], (rows[1:] != rows[:-1]) | (columns[1:] != columns[:-1])))
        rows, columns = rows[new], columns[new]
    counts = np.bincount(rows, minlength=n)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return scipy.sparse.csr_matrix((np.ones(len(columns), dtype=dtype), columns, indptr),
                                   shape=(n, num_words))


def _indices_by_row(sequences: Sequence[Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Every index of sequences in one int64 array, and the row of each."""
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2 and \
            sequences.dtype.kind in "iu":
        n, length = sequences.shape
        return (np.repeat(np.arange(n, dtype=np.int64), length),
                sequences.reshape(-1).astype(np.int64))
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"multi_hot expects a list of sequences. Received: "
                         f"{type(sequences).__name__}")
    lengths = []
    for i, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"multi_hot: sequence {i} is a {type(sequence).__name__}, not a "
                             f"sequence of indices") from None
    try:  # numpy infers one type for all: a float, string or nested item shows in it
        columns = np.array(list(itertools.chain.from_iterable(sequences)))
    except (ValueError, TypeError, OverflowError):
        columns = np.array([None])
    if columns.size and (columns.ndim != 1 or columns.dtype.kind not in "iu" or
                         columns.dtype == np.uint64):
        bad = next((i for i, sequence in enumerate(sequences) for item in sequence
                    if not isinstance(item, (int, np.integer)) or isinstance(item, bool)), None)
        which = "a sequence" if bad is None else f"sequence {bad}"
        raise ValueError(f"multi_hot: {which} holds something other than integer indices")
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    return rows, columns.astype(np.int64) if columns.size else np.zeros(0, np.int64)


def normalize(x: Any, axis: int = -1, order: Any = 2) -> np.ndarray:
    """Scales x so that its slices along axis have norm 1, as ``keras.utils.normalize`` does
    (the L2 norm by default); a slice of norm 0 is left as it is (Keras divides it by 1).

    Args:
        x: an array (or anything ``numpy.asarray`` takes) of numbers, at least 1-d.
        axis: the axis along which each norm is taken. Defaults to -1 (each row of a matrix).
        order: the norm's order, as ``numpy.linalg.norm``'s ``ord`` for vectors (2, 1,
            ``np.inf``, ...). Defaults to 2.

    Returns:
        A new array of x's shape: float32 for float32 input, float64 for integers (numpy's
        division).

    Raises:
        ValueError: x is 0-d or not numeric, an axis out of range, or an order numpy does not
            know for vectors.
        TypeError: axis is not an integer.
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.dtype.kind not in "biuf":
        raise ValueError(f"normalize expects an array of numbers with at least one axis. "
                         f"Received: shape={x.shape}, dtype={x.dtype}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"normalize: axis must be an integer. Received: axis={axis!r}") from None
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"normalize: axis {axis} is out of range for an array of "
                         f"{x.ndim} axes. Received: axis={axis}")
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return np.asarray(x / norm)


def set_random_seed(seed: int) -> None:
    """Seeds every source of randomness fastnn uses (and Python's and numpy's global ones), so
    that weight initialisation, shuffling and dropout repeat exactly.

    Args:
        seed: a non-negative integer (anything ``int()`` takes).

    Raises:
        ValueError: a negative seed.
    """
    global _rng
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator behind fastnn's initialisers, shuffling and dropout."""
    scoped: Optional[np.random.Generator] = getattr(_local, "rng", None)
    return _rng if scoped is None else scoped


@contextlib.contextmanager
def seeded_rng(seed: Optional[int]) -> Iterator[None]:
    """Within the block, on this thread only, fastnn draws weights, shuffles and dropout seeds
    from a generator seeded with seed (None: the global one, as outside the block).

    Raises:
        ValueError: a negative seed.
    """
    if seed is None:
        yield
        return
    if int(seed) < 0:
        raise ValueError(f"the seed must be a non-negative integer. Received: seed={seed!r}")
    before = getattr(_local, "rng", None)
    _local.rng = np.random.default_rng(int(seed))
    try:
        yield
    finally:
        _local.rng = before


def _after_fork_in_child() -> None:
    # numpy guards a generator with a lock; a fork while another thread drew from it (a fit's
    # shuffle) leaves the child's copy locked for ever. The child continues the same stream,
    # as it would had the lock been free, from a fresh generator.
    global _rng
    fresh = type(_rng.bit_generator)()
    fresh.state = _rng.bit_generator.state
    _rng = np.random.Generator(fresh)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
