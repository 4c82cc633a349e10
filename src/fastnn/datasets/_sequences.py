"""What Keras' IMDB and Reuters loaders share: reading their npz files (object arrays of word-index
lists) and word-index JSON, checking the arguments, and turning the stored lists into the returned
sequences (start mark, index shift, length filter, vocabulary cut).

The sequences are handled as one flat int64 array of every word plus the length of each sequence,
so each step is a few numpy operations over millions of words instead of a Python loop; they
become lists of Python ints only at the end, as Keras returns them.
"""

from __future__ import annotations

import itertools
import json
import operator
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .._safe_read import open_regular
from ._files import read_npz

# Word indices, the start and OOV marks and the shift stay below this in size, so that adding the
# shift to an index cannot overflow int64.
_MAX_INDEX = 2**62
# A word-index JSON larger than this is not one: Keras' IMDB index is 1.6 MB.
_MAX_JSON_BYTES = 1 << 28


class Sequences(NamedTuple):
    """Sequences as every word in a row (flat) and each sequence's length (lengths), with one
    label each."""
    flat: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def take(self, rows: np.ndarray) -> "Sequences":
        """The sequences at rows (indices or a boolean mask), in that order."""
        starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)
        lengths = self.lengths[rows]
        starts = starts[rows]
        # Each kept word's position: its sequence's start plus its place within the sequence.
        within = np.arange(int(lengths.sum()), dtype=np.int64) - \
            np.repeat(np.cumsum(lengths) - lengths, lengths)
        return Sequences(self.flat[np.repeat(starts, lengths) + within], lengths,
                         self.labels[rows])


def read_sequences(path: Path, pairs: Tuple[Tuple[str, str], ...]) -> List[Sequences]:
    """Each (x, y) pair of arrays in the npz at path: x an object array of lists of ints (as
    Keras stores them) or a 2-d integer array, y a 1-d array of numbers of the same length."""
    kinds: Dict[str, str] = {}
    for x, y in pairs:
        kinds[x], kinds[y] = "iuO", "biuf"
    arrays = read_npz(path, kinds)
    return [_as_sequences(arrays[x], arrays[y], f"{path}: {x}", f"{path}: {y}") for x, y in pairs]


def _as_sequences(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> Sequences:
    if y.ndim != 1 or len(x) != len(y) or x.ndim != (1 if x.dtype.hasobject else 2):
        raise ValueError(f"{x_name}: expected sequences (n,) of lists (or an (n, length) integer "
                         f"array) and labels {y_name} (n,); got {x.dtype} {x.shape} and "
                         f"{y.dtype} {y.shape}")
    if not x.dtype.hasobject:
        return _checked(Sequences(x.reshape(-1).astype(np.int64),
                                  np.full(len(x), x.shape[1], np.int64), y), x_name)
    for i, row in enumerate(x):
        if type(row) is not list:
            raise ValueError(f"{x_name}: sequence {i} is a {type(row).__name__}; expected a list "
                             f"of word indices")
    lengths = np.fromiter(map(len, x), np.int64, len(x))
    try:  # numpy infers the type: int64 for ints, anything else shows in the dtype or shape
        words = np.array(list(itertools.chain.from_iterable(x)))
    except (ValueError, TypeError, OverflowError):
        words = np.array([None])
    if words.size and (words.ndim != 1 or words.dtype.kind not in "biu" or
                       words.dtype == np.uint64):
        bad = next((i for i, row in enumerate(x) for w in row
                    if type(w) not in (int, bool) or abs(w) >= _MAX_INDEX), None)
        which = "a sequence" if bad is None else f"sequence {bad}"
        raise ValueError(f"{x_name}: {which} holds something other than integer word indices "
                         f"(below 2**62)")
    return _checked(Sequences(words.astype(np.int64), lengths, y), x_name)


def _checked(data: Sequences, x_name: str) -> Sequences:
    if data.flat.size and max(-int(data.flat.min()), int(data.flat.max())) >= _MAX_INDEX:
        raise ValueError(f"{x_name}: word indices must be below 2**62 in size")
    return data


def shuffled(data: Sequences, rng: np.random.RandomState) -> Sequences:
    """data in the order rng.shuffle gives arange(n), as Keras shuffles its indices."""
    indices = np.arange(len(data.lengths))
    rng.shuffle(indices)
    return data.take(indices)


def marked(data: Sequences, start_char: Optional[int], index_from: int) -> Sequences:
    """Every index plus index_from, after start_char at the head of each sequence (if not
    None)."""
    flat = data.flat + index_from
    if start_char is None:
        return data._replace(flat=flat)
    starts = np.cumsum(data.lengths) - data.lengths
    return Sequences(np.insert(flat, starts, start_char), data.lengths + 1, data.labels)


def shorter_than(data: Sequences, maxlen: Optional[int]) -> Sequences:
    """The sequences shorter than maxlen (counting the start mark), all of them when maxlen is
    None or 0 (Keras tests ``if maxlen``): longer ones are dropped, not truncated."""
    return data.take(data.lengths < maxlen) if maxlen else data


def default_num_words(parts: List[Sequences]) -> int:
    """Keras' num_words when none is given: the largest index in all parts (so that index itself
    falls outside [skip_top, num_words) and becomes oov_char, as in Keras)."""
    return max((int(p.flat.max()) for p in parts if p.flat.size), default=0)


def vocabulary(data: Sequences, num_words: int, skip_top: int,
               oov_char: Optional[int]) -> Sequences:
    """Indices outside [skip_top, num_words) become oov_char, or are dropped when it is None."""
    outside = (data.flat < skip_top) | (data.flat >= num_words)
    if oov_char is not None:
        return data._replace(flat=np.where(outside, oov_char, data.flat))
    rows = np.repeat(np.arange(len(data.lengths)), data.lengths)
    kept = np.bincount(rows[~outside], minlength=len(data.lengths)).astype(np.int64)
    return Sequences(data.flat[~outside], kept, data.labels)


def as_lists(data: Sequences, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
    """Sequences [start, stop) as Keras returns them: ``np.array(lists, dtype=object)``, which
    is a 1-d object array of lists of Python ints, except that numpy makes it 2-d when every
    sequence has the same length (as it does for Keras)."""
    ends = np.cumsum(data.lengths)
    rows = np.split(data.flat, ends[:-1])[start:stop] if len(ends) else []
    return np.array([row.tolist() for row in rows], dtype=object)


def checked_int(name: str, value: Any, none: bool = False, negative: bool = False) -> Any:
    """value as an int (or None when none is True), refusing floats and, unless negative is True,
    values below 0; and anything of 2**62 or more in size."""
    if value is None and none:
        return None
    try:
        number = operator.index(value)
    except TypeError:
        kind = "an integer or None" if none else "an integer"
        raise TypeError(f"{name} must be {kind}. Received: {name}={value!r}") from None
    if (number < 0 and not negative) or abs(number) >= _MAX_INDEX:
        raise ValueError(f"{name} must be {'an' if negative else 'a non-negative'} integer "
                         f"below 2**62. Received: {name}={value!r}")
    return number


def checked_split(test_split: Any) -> float:
    """test_split as a float in [0, 1), as Keras' boston_housing checks it."""
    try:
        fraction = float(test_split)
    except (TypeError, ValueError):
        fraction = float("nan")
    if not 0 <= fraction < 1:
        raise ValueError(f"test_split must be a fraction in [0, 1) (0 keeps every sample for "
                         f"training). Received: test_split={test_split!r}")
    return fraction


def read_word_index(path: Path) -> Dict[str, int]:
    """A word-index JSON file: one object mapping words (strings) to indices (integers).

    Raises:
        ValueError: the file is not JSON, not such an object, or larger than any word index.
    """
    f, size = open_regular(path)
    with f:
        if size > _MAX_JSON_BYTES:
            raise ValueError(f"{path}: {size} bytes, more than a word index holds (at most "
                             f"{_MAX_JSON_BYTES})")
        data = f.read()
    try:
        index = json.loads(data)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError too
        raise ValueError(f"{path}: not a word-index JSON file ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None
    if not isinstance(index, dict) or \
            not all(type(v) is int for v in index.values()):
        raise ValueError(f"{path}: expected a JSON object mapping words to integer indices")
    return index
