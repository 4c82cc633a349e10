"""Shared by the dataset tests: no test sees the real ~/.fastnn, ~/.keras or $FASTNN_DATA or
touches the network; writers of files in Keras' formats; a pure-Python statement of Keras'
sequence-loader steps to derive expected arrays from (independent of fastnn's code)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import pytest


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_home(offline_home):
    """Every test here runs offline, in an empty HOME (tests/conftest.py)."""
    return offline_home


def object_array(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """A 1-d object array of lists, as Keras' files hold them (np.array would make a 2-d int
    array of equal-length rows)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = [int(w) for w in row]
    return out


def write_imdb(path: Path, x_train, y_train, x_test, y_test) -> Path:
    """imdb.npz as Keras keeps it: object arrays of int lists (pickled by np.savez) and labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=object_array(x_train), y_train=np.asarray(y_train, np.int64),
             x_test=object_array(x_test), y_test=np.asarray(y_test, np.int64))
    return path


def write_reuters(path: Path, x, y) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=object_array(x), y=np.asarray(y, np.int64))
    return path


def write_word_index(path: Path, index) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(index))
    return path


def random_rows(rng: np.random.Generator, n: int, top: int = 40, longest: int = 12,
                empty: bool = False) -> List[List[int]]:
    return [rng.integers(1, top, rng.integers(0 if empty else 1, longest)).tolist()
            for _ in range(n)]


def keras_steps(splits: Sequence[Tuple[Sequence[Sequence[int]], Sequence[Any]]],
                num_words: Optional[int] = None, skip_top: int = 0, maxlen: Optional[int] = None,
                seed: Optional[int] = 113, start_char: Optional[int] = 1,
                oov_char: Optional[int] = 2, index_from: int = 3):
    """Keras' documented steps, one sequence at a time in plain Python: one RandomState shuffles
    each split in turn (IMDB: train, then test; Reuters: its one set); each sequence gains the
    start mark and the shift; maxlen drops (per split) sequences of maxlen or more; num_words
    defaults to the largest index of all splits; indices outside [skip_top, num_words) become
    oov_char or go. Returns [(rows, labels), ...] per split."""
    rng = np.random.RandomState(seed)
    out = []
    for x, y in splits:
        order = np.arange(len(x))
        rng.shuffle(order)
        rows = [([start_char] if start_char is not None else []) +
                [w + index_from for w in x[i]] for i in order]
        labels = [y[i] for i in order]
        if maxlen:
            kept = [i for i, r in enumerate(rows) if len(r) < maxlen]
            rows, labels = [rows[i] for i in kept], [labels[i] for i in kept]
        out.append((rows, labels))
    if not num_words:
        num_words = max((w for rows, _ in out for r in rows for w in r), default=0)
    done = []
    for rows, labels in out:
        if oov_char is None:
            rows = [[w for w in r if skip_top <= w < num_words] for r in rows]
        else:
            rows = [[w if skip_top <= w < num_words else oov_char for w in r] for r in rows]
        done.append((rows, labels))
    return done


def as_rows(x: np.ndarray) -> List[List[int]]:
    """A loader's x, as lists: checked to be what Keras returns, ``np.array(lists,
    dtype=object)``: a 1-d object array of lists of Python ints, or a 2-d object array of Python
    ints when every list has the same length."""
    assert x.dtype == object and x.ndim in (1, 2)
    if x.ndim == 1:
        assert all(type(row) is list for row in x)
    rows = [list(row) for row in x]
    assert all(type(w) is int for row in rows for w in row)
    assert np.array(rows, dtype=object).shape == x.shape
    return rows


@pytest.fixture
def keras():
    """The helpers above, for the test modules (which cannot import conftest by name)."""
    return types.SimpleNamespace(
        object_array=object_array, write_imdb=write_imdb, write_reuters=write_reuters,
        write_word_index=write_word_index, random_rows=random_rows, steps=keras_steps,
        rows=as_rows, shared=SHARED)
