"""Synthetic multi-hot text data shaped like the book's IMDB and Reuters sets, for the benchmarks
(this machine, and most CI machines, cannot download the real ones)."""

from __future__ import annotations

from typing import Tuple

import numpy as np


def multi_hot_rows(rows: int, cols: int, nnz: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """CSR structure (indptr int64, sorted indices int32) of a (rows, cols) multi-hot matrix with
    about ``nnz`` distinct columns a row, drawn with Zipf-like word frequencies (rank r with
    probability ~ 1 / (r + 10)). Made in blocks of 1,000 rows."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / (np.arange(cols) + 10.0))
    cdf /= cdf[-1]
    # Draws with repeats, made distinct per row: 1.2 draws per kept word gives ~nnz.
    draws = rng.integers(int(nnz * 0.75), int(nnz * 1.7), rows)
    block_seeds = rng.integers(0, 2**63, (rows + 999) // 1000)
    counts, indices = [], []
    for b, seed_b in enumerate(block_seeds):
        d = draws[b * 1000:(b + 1) * 1000]
        row_of = np.repeat(np.arange(len(d), dtype=np.int64), d)
        u = np.random.default_rng(seed_b).random(len(row_of))
        words = np.minimum(np.searchsorted(cdf, u), cols - 1)
        r, c = np.divmod(np.unique(row_of * cols + words), cols)
        counts.append(np.bincount(r, minlength=len(d)))
        indices.append(c.astype(np.int32))
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return indptr, np.concatenate(indices)


def densify(indptr: np.ndarray, indices: np.ndarray, cols: int) -> np.ndarray:
    """The float32 0/1 matrix of a multi-hot CSR structure, as the book's vectorize_sequences."""
    x = np.zeros((len(indptr) - 1, cols), np.float32)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    x[rows, indices] = 1
    return x


def row_scores(indptr: np.ndarray, indices: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w for the multi-hot x of (indptr, indices), without making x: w is (cols, k)."""
    sums = np.add.reduceat(w[indices], indptr[:-1].clip(max=len(indices) - 1), axis=0)
    sums[np.diff(indptr) == 0] = 0  # reduceat gives an empty row the next row's first value
    return sums


def text_labels(indptr: np.ndarray, indices: np.ndarray, cols: int, classes: int,
                seed: int) -> np.ndarray:
    """Labels from a hidden linear rule: for 2 classes, float32 0/1 split at the median score
    (IMDB's balance); for more, the int64 argmax of ``classes`` random scores (Reuters)."""
    rng = np.random.default_rng(seed)
    if classes == 2:
        score = row_scores(indptr, indices, rng.standard_normal((cols, 1)).astype(np.float32))[:, 0]
        binary: np.ndarray = (score > np.median(score)).astype(np.float32)
        return binary
    w = rng.standard_normal((cols, classes)).astype(np.float32)
    classes_of: np.ndarray = row_scores(indptr, indices, w).argmax(axis=1).astype(np.int64)
    return classes_of
