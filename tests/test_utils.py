"""utils: one-hot labels as Keras' to_categorical, the global seed, and the text helpers."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.utils import (get_rng, multi_hot, normalize, pad_sequences, set_random_seed,
                          to_categorical)


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3, dtype=np.float32)[[0, 2, 1]])
    assert to_categorical([1, 0], num_classes=4).shape == (2, 4)
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])


def test_set_random_seed_repeats_the_draws():
    set_random_seed(5)
    a = get_rng().random(3)
    set_random_seed(5)
    np.testing.assert_array_equal(a, get_rng().random(3))


# ---- pad_sequences, multi_hot, normalize (values checked against Keras 3.15) -------------------

def test_pad_sequences_as_keras():
    seqs = [[1, 2, 3], [4], []]
    out = pad_sequences(seqs)
    assert out.dtype == np.int32 and out.tolist() == [[1, 2, 3], [0, 0, 4], [0, 0, 0]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[2, 3], [0, 4], [0, 0]]
    assert pad_sequences(seqs, maxlen=2, padding="post", truncating="post").tolist() == \
        [[1, 2], [4, 0], [0, 0]]
    assert pad_sequences(seqs, maxlen=4, value=-1, padding="post").tolist() == \
        [[1, 2, 3, -1], [4, -1, -1, -1], [-1, -1, -1, -1]]
    floats = pad_sequences([[1.7, 2.2]], dtype="float32", value=-1.5, maxlen=3)
    np.testing.assert_array_equal(floats, np.array([[-1.5, 1.7, 2.2]], np.float32))
    assert pad_sequences([[1.7, 2.2]], maxlen=3).tolist() == [[0, 1, 2]]  # int32 truncates
    assert pad_sequences(np.array([[1, 2], [3, 4]]), maxlen=3).tolist() == [[0, 1, 2], [0, 3, 4]]
    assert pad_sequences([[1, 2], (3,)], maxlen=np.int64(2)).tolist() == [[1, 2], [0, 3]]


def test_pad_sequences_empty_inputs_and_items_with_a_shape():
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    # Keras raises numpy's errors for these two; an empty result is what they ask for
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[1, 2, 3], [4]], maxlen=0).shape == (2, 0)
    vectors = pad_sequences([[[1, 2], [3, 4]], [[5, 6]]], maxlen=3)
    assert vectors.shape == (2, 3, 2)
    assert vectors.tolist() == [[[0, 0], [1, 2], [3, 4]], [[0, 0], [0, 0], [5, 6]]]


def test_pad_sequences_of_strings():
    words = pad_sequences([["a", "bb"], ["ccc"]], dtype="<U3", value="")
    assert words.tolist() == [["a", "bb"], ["", "ccc"]]
    assert pad_sequences([["a", "bb"], ["ccc"]], dtype=object, value="x").tolist() == \
        [["a", "bb"], ["x", "ccc"]]
    assert pad_sequences([["a"]], dtype="object", maxlen=2, value="x").tolist() == [["x", "a"]]


@pytest.mark.parametrize("args, kwargs, error, match", [
    (([["a"]],), dict(value="x"), ValueError, "needs a string dtype or dtype=object"),
    (([[1]],), dict(padding="mid"), ValueError, "Received: padding='mid'"),
    (([[]],), dict(truncating="mid"), ValueError, "Received: truncating='mid'"),
    (([[1], [[2, 3]]],), dict(maxlen=3), ValueError, r"the items of sequence 1 have shape \(2,\)"),
    (([1, 2],), {}, ValueError, "sequence 0 is a int, not a sequence"),
    ((5,), {}, ValueError, "expects a list of sequences"),
    (([[1, 2]],), dict(maxlen=-1), ValueError, "Received: maxlen=-1"),
    (([[1, 2]],), dict(maxlen=2.0), TypeError, "Received: maxlen=2.0"),
])
def test_pad_sequences_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(*args, **kwargs)


def vectorize_sequences(sequences, dimension):
    """The book's version (Deep Learning with Python, 3.4), the reference for multi_hot."""
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.
    return results


def test_multi_hot_is_the_books_vectorize_sequences(rng):
    seqs = [rng.integers(0, 50, rng.integers(0, 30)).tolist() for _ in range(40)]
    out = multi_hot(seqs, 50)
    assert out.dtype == np.float32 and out.shape == (40, 50)
    np.testing.assert_array_equal(out, vectorize_sequences(seqs, 50))
    assert multi_hot(seqs, 50, dtype="bool").dtype == np.bool_
    objects = np.empty(3, dtype=object)  # what imdb.load_data returns
    objects[0], objects[1], objects[2] = [1, 1, 4], [], [0]
    np.testing.assert_array_equal(multi_hot(objects, 5), vectorize_sequences(list(objects), 5))
    matrix = np.array([[3, 1], [2, 2]])
    np.testing.assert_array_equal(multi_hot(matrix, 4), vectorize_sequences(matrix, 4))
    assert multi_hot([], 7).shape == (0, 7)
    assert multi_hot([np.array([2, 0])], 3).tolist() == [[1, 0, 1]]


@pytest.mark.parametrize("seqs, match", [
    ([[1, 2], [5]], r"sequence 1 holds index 5, outside \[0, num_words=5\)"),
    ([[0], [], [-1]], r"sequence 2 holds index -1, outside \[0, num_words=5\)"),
    ([[1], [1.0]], "sequence 1 holds something other than integer indices"),
    ([[1], ["2"]], "sequence 1 holds something other than integer indices"),
    ([[True]], "sequence 0 holds something other than integer indices"),
    ([3], "sequence 0 is a int, not a sequence of indices"),
])
def test_multi_hot_bad_indices_name_the_row(seqs, match):
    with pytest.raises(ValueError, match=match):
        multi_hot(seqs, 5)


def test_multi_hot_bad_num_words():
    with pytest.raises(TypeError, match="Received: num_words=2.5"):
        multi_hot([[1]], 2.5)
    with pytest.raises(ValueError, match="Received: num_words=-1"):
        multi_hot([[1]], -1)


def test_multi_hot_sparse(rng):
    sparse = pytest.importorskip("scipy.sparse", reason="multi_hot(sparse=True) needs scipy")
    seqs = [rng.integers(0, 30, rng.integers(0, 40)).tolist() for _ in range(25)]
    for dtype in ("float32", "float64", "int8", "bool"):
        m = multi_hot(seqs, 30, dtype=dtype, sparse=True)
        assert isinstance(m, sparse.csr_matrix) and m.shape == (25, 30)
        assert m.dtype == np.dtype(dtype) and np.all(m.data == 1)
        assert m.has_canonical_format  # sorted indices, no duplicates
        indices = [m.indices[m.indptr[i]:m.indptr[i + 1]].tolist() for i in range(25)]
        assert indices == [sorted(set(s)) for s in seqs]
        np.testing.assert_array_equal(m.toarray(), multi_hot(seqs, 30, dtype=dtype))
    assert multi_hot([[], []], 4, sparse=True).nnz == 0
    with pytest.raises(ValueError, match="sequence 0 holds index 4"):
        multi_hot([[4]], 4, sparse=True)


def test_multi_hot_sparse_keys_past_int64(monkeypatch):
    # rows x num_words past 2**63: sorted by (row, column) pairs instead of one key each
    pytest.importorskip("scipy.sparse", reason="multi_hot(sparse=True) needs scipy")
    m = multi_hot([[2**62, 5, 5], [], [7]], 2**62 + 1, sparse=True)
    assert m.indptr.tolist() == [0, 2, 2, 3] and m.indices.tolist() == [5, 2**62, 7]


def test_multi_hot_sparse_without_scipy(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("No module named 'scipy'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[scipy\]"'):
        multi_hot([[1]], 3, sparse=True)
    assert multi_hot([[1]], 3).tolist() == [[0, 1, 0]]  # dense needs no scipy


def test_normalize_as_keras():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0]])  # a zero row stays
    assert normalize(np.array([[3, 4]])).dtype == np.float64
    assert normalize(np.array([[3, 4]], np.float32)).dtype == np.float32
    np.testing.assert_allclose(normalize(np.array([[3.0, 4.0], [1, 1]]), order=1),
                               [[3 / 7, 4 / 7], [0.5, 0.5]])
    np.testing.assert_allclose(normalize(np.array([[3.0, 4.0], [1, 1]]), axis=1),
                               [[0.6, 0.8], [0.5 ** 0.5, 0.5 ** 0.5]])
    # Keras returns (1, 2) for a 1-d array and fails for axis=0 (``axis or -1``): here the
    # shape is kept and axis 0 means axis 0
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [0.6, 0.8])
    np.testing.assert_allclose(normalize(np.array([[3.0, 1.0], [4.0, 0.0], [0.0, 0.0]]), axis=0),
                               [[0.6, 1.0], [0.8, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize([[6.0, 8.0]]), [[0.6, 0.8]])
    x = np.ones((2, 3), np.float32)
    normalize(x)
    assert np.all(x == 1)  # a new array; x unchanged


@pytest.mark.parametrize("x, kwargs, error, match", [
    (np.float64(3.0), {}, ValueError, "at least one axis"),
    (np.array(["a"]), {}, ValueError, "array of numbers"),
    (np.ones((2, 2)), dict(axis=2), ValueError, "axis 2 is out of range"),
    (np.ones((2, 2)), dict(axis=None), TypeError, "Received: axis=None"),
])
def test_normalize_errors(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        normalize(x, **kwargs)
