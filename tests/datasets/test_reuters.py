"""reuters.load_data, get_word_index and get_label_names on small files in Keras' format."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastnn.datasets import DatasetNotFoundError, reuters

X = [[3, 1], [2, 2, 5], [9], [4, 1, 1, 6], [7, 8], [1], [5, 5, 5, 5, 5], [6, 2], [8], [2, 9, 4]]
Y = [3, 4, 3, 19, 1, 3, 11, 4, 3, 16]

# Keras 3.15's reuters.load_data on the file above, run once to take these values.
KERAS_GOLDEN = [
    ({}, [[1, 5, 2, 7], [1, 7, 4, 4, 9], [1, 8, 8, 8, 8, 8], [1, 5, 5, 8], [1, 6, 4], [1, 9, 5],
          [1, 10, 11], [1, 11]], [16, 19, 11, 4, 3, 4, 1, 3], [[1, 2], [1, 4]], [3, 3]),
    (dict(test_split=0.5, maxlen=4), [[1, 6, 4], [1, 9, 5], [1, 10, 11]], [3, 4, 1],
     [[1, 11], [1, 2], [1, 4]], [3, 3, 3]),
    (dict(num_words=9, skip_top=5, oov_char=None, seed=1),
     [[], [5, 7], [8, 8, 8, 8, 8], [], [6], [7], [5, 5, 8], [5]], [3, 16, 11, 1, 3, 19, 4, 4],
     [[], []], [3, 3]),
    (dict(start_char=7, index_from=10, test_split=0.0),
     [[7, 12, 2, 14], [7, 14, 11, 11, 16], [7, 15, 15, 15, 15, 15], [7, 12, 12, 15], [7, 13, 11],
      [7, 16, 12], [7, 17, 18], [7, 18], [7, 2], [7, 11]], [16, 19, 11, 4, 3, 4, 1, 3, 3, 3],
     [], []),
]


def split(parts, test_split):
    """The documented split of the one shuffled set: the first int(n * (1 - test_split))."""
    (rows, labels), = parts
    cut = int(len(rows) * (1 - test_split))
    return rows[:cut], labels[:cut], rows[cut:], labels[cut:]


@pytest.fixture
def tiny(tmp_path, keras):
    return keras.write_reuters(tmp_path / "reuters.npz", X, Y)


@pytest.mark.parametrize("kwargs, x_train, y_train, x_test, y_test", KERAS_GOLDEN)
def test_the_values_keras_gives(tiny, keras, kwargs, x_train, y_train, x_test, y_test):
    (xtr, ytr), (xte, yte) = reuters.load_data(tiny, **kwargs)
    assert keras.rows(xtr) == x_train and keras.rows(xte) == x_test
    assert ytr.tolist() == y_train and yte.tolist() == y_test
    assert ytr.dtype == yte.dtype == np.int64
    test_split = kwargs.pop("test_split", 0.2)
    assert split(keras.steps([(X, Y)], **kwargs), test_split) == \
        (x_train, y_train, x_test, y_test)


def test_every_argument_against_the_documented_steps(tmp_path, keras, rng):
    x, y = keras.random_rows(rng, 41, top=60), rng.integers(0, 46, 41).tolist()
    path = keras.write_reuters(tmp_path / "reuters.npz", x, y)
    cases = itertools.product([None, 12], [0, 4], [None, 6], [113, 3], [1, None], [2, None],
                              [3, 1], [0.2, 0.0, 0.5])
    for nw, st, ml, seed, sc, oov, ix, ts in cases:
        kwargs = dict(num_words=nw, skip_top=st, maxlen=ml, seed=seed, start_char=sc,
                      oov_char=oov, index_from=ix)
        want = split(keras.steps([(x, y)], **kwargs), ts)
        (xtr, ytr), (xte, yte) = reuters.load_data(path, test_split=ts, **kwargs)
        assert (keras.rows(xtr), ytr.tolist(), keras.rows(xte), yte.tolist()) == want, kwargs


def test_the_default_split_of_11228_newswires_is_8982_2246():
    assert int(11228 * (1 - 0.2)) == 8982  # the rule load_data applies, on Keras' set


@pytest.mark.parametrize("test_split", [1.0, -0.1, 1.5, float("nan"), "0.2x", None])
def test_bad_test_split(tiny, test_split):
    with pytest.raises(ValueError, match=r"test_split must be a fraction in \[0, 1\)"):
        reuters.load_data(tiny, test_split=test_split)


def test_maxlen_that_keeps_nothing(tiny):
    with pytest.raises(ValueError, match="no newswire is shorter than maxlen=2"):
        reuters.load_data(tiny, maxlen=2)


def test_found_in_keras_cache_and_offline_message(keras, isolated_home):
    with pytest.raises(DatasetNotFoundError) as info:
        reuters.load_data()
    assert "reuters.npz" in str(info.value) and ".keras" in str(info.value)
    keras.write_reuters(isolated_home / ".keras" / "datasets" / "reuters.npz", X, Y)
    assert len(reuters.load_data()[0][0]) == 8


def test_get_word_index(keras, isolated_home):
    keras.write_word_index(isolated_home / ".fastnn" / "datasets" / "reuters_word_index.json",
                           {"the": 1, "of": 2})
    assert reuters.get_word_index() == {"the": 1, "of": 2}


def test_get_label_names():
    names = reuters.get_label_names()
    assert len(names) == 46 and len(set(names)) == 46
    assert names[:5] == ("cocoa", "grain", "veg-oil", "earn", "acq")
    assert names[3] == "earn" and names[45] == "lead" and names[19] == "money-fx"
