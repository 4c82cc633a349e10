"""imdb.load_data and get_word_index on small files in Keras' exact format."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from fastnn.datasets import DatasetNotFoundError, imdb

TRAIN = [[5, 1, 9], [2], [7, 7, 3, 4], [8, 6]]
TRAIN_Y = [1, 0, 1, 0]
TEST = [[4, 4], [9, 1, 2], [3]]
TEST_Y = [0, 1, 1]

# Keras 3.15's imdb.load_data on the file above (TRAIN, TEST), run once to take these values.
KERAS_GOLDEN = [
    ({}, [[1, 11, 9], [1, 10, 10, 6, 7], [1, 8, 4, 2], [1, 5]], [0, 1, 1, 0],
     [[1, 2, 4, 5], [1, 7, 7], [1, 6]], [1, 0, 1]),
    (dict(num_words=8, skip_top=4), [[2, 2, 2], [2, 2, 2, 6, 7], [2, 2, 4, 2], [2, 5]],
     [0, 1, 1, 0], [[2, 2, 4, 5], [2, 7, 7], [2, 6]], [1, 0, 1]),
    (dict(maxlen=4), [[1, 2, 9], [1, 5]], [0, 0], [[1, 7, 7], [1, 6]], [0, 1]),
    (dict(start_char=None, oov_char=None, index_from=0, num_words=6),
     [[], [3, 4], [5, 1], [2]], [0, 1, 1, 0], [[1, 2], [4, 4], [3]], [1, 0, 1]),
    (dict(seed=0), [[1, 10, 10, 6, 7], [1, 11, 9], [1, 5], [1, 8, 4, 2]], [1, 0, 0, 1],
     [[1, 7, 7], [1, 6], [1, 2, 4, 5]], [0, 1, 1]),
]


@pytest.fixture
def tiny(tmp_path, keras):
    return keras.write_imdb(tmp_path / "imdb.npz", TRAIN, TRAIN_Y, TEST, TEST_Y)


@pytest.mark.parametrize("kwargs, x_train, y_train, x_test, y_test", KERAS_GOLDEN)
def test_the_values_keras_gives(tiny, keras, kwargs, x_train, y_train, x_test, y_test):
    (xtr, ytr), (xte, yte) = imdb.load_data(tiny, **kwargs)
    assert keras.rows(xtr) == x_train and keras.rows(xte) == x_test
    assert ytr.tolist() == y_train and yte.tolist() == y_test
    assert ytr.dtype == yte.dtype == np.int64  # the file's labels, as Keras returns them


def test_the_golden_values_follow_from_the_documented_steps(keras):
    # The same five cases from the plain statement of the steps: the golden values and the
    # statement agree, so the statement can check the many cases below.
    for kwargs, x_train, y_train, x_test, y_test in KERAS_GOLDEN:
        (rtr, ltr), (rte, lte) = keras.steps([(TRAIN, TRAIN_Y), (TEST, TEST_Y)], **kwargs)
        assert (rtr, ltr, rte, lte) == (x_train, y_train, x_test, y_test)


def test_every_argument_against_the_documented_steps(tmp_path, keras, rng):
    train, test = keras.random_rows(rng, 30), keras.random_rows(rng, 20)
    y_train, y_test = rng.integers(0, 2, 30).tolist(), rng.integers(0, 2, 20).tolist()
    path = keras.write_imdb(tmp_path / "imdb.npz", train, y_train, test, y_test)
    cases = itertools.product([None, 0, 9, 30], [0, 3], [None, 0, 8, 1000], [113, 5],
                              [1, None, 7], [2, None], [3, 0])
    for nw, st, ml, seed, sc, oov, ix in cases:
        kwargs = dict(num_words=nw, skip_top=st, maxlen=ml, seed=seed, start_char=sc,
                      oov_char=oov, index_from=ix)
        (rtr, ltr), (rte, lte) = keras.steps([(train, y_train), (test, y_test)], **kwargs)
        (xtr, ytr), (xte, yte) = imdb.load_data(path, **kwargs)
        assert keras.rows(xtr) == rtr and keras.rows(xte) == rte, kwargs
        assert ytr.tolist() == ltr and yte.tolist() == lte, kwargs


def test_the_largest_index_becomes_oov_without_num_words(tiny, keras):
    # As in Keras: num_words defaults to the largest index, and the range excludes it.
    (x_train, _), _ = imdb.load_data(tiny)
    assert 12 not in itertools.chain(*keras.rows(x_train))  # 9 + 3, the largest
    (x_train, _), _ = imdb.load_data(tiny, num_words=13)
    assert 12 in itertools.chain(*keras.rows(x_train))


def test_maxlen_drops_whole_reviews_and_counts_the_start_mark(tiny, keras):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(tiny, maxlen=3)
    assert keras.rows(x_train) == [[1, 5]] and y_train.tolist() == [0]
    # [3] + 3 = 6 is the largest index left, so (num_words defaulting to it) OOV
    assert keras.rows(x_test) == [[1, 2]] and y_test.tolist() == [1]
    (x_train, _), _ = imdb.load_data(tiny, maxlen=3, start_char=None)
    assert sorted(map(len, keras.rows(x_train))) == [1, 2]
    # 0 is Keras' "no maxlen" (it tests ``if maxlen``)
    assert len(imdb.load_data(tiny, maxlen=0)[0][0]) == 4


def test_maxlen_that_empties_a_split_raises(tmp_path, keras):
    with pytest.raises(ValueError, match="no training review is shorter than maxlen=2"):
        imdb.load_data(keras.write_imdb(tmp_path / "a.npz", TRAIN, TRAIN_Y, TEST, TEST_Y),
                       maxlen=2)
    # only the test split empty: [[1]] + 3 has 2 indices with the start mark
    path = keras.write_imdb(tmp_path / "b.npz", [[1]], [0], [[1, 2, 3]], [1])
    with pytest.raises(ValueError, match="no test review is shorter than maxlen=3"):
        imdb.load_data(path, maxlen=3)


def test_the_test_split_is_shuffled_by_the_same_generator_continuing(tmp_path, keras):
    rows = [[i + 1] for i in range(10)]
    path = keras.write_imdb(tmp_path / "imdb.npz", rows, range(10), rows, range(10))
    (_, y_train), (_, y_test) = imdb.load_data(path, seed=7)
    rng = np.random.RandomState(7)
    first, second = np.arange(10), np.arange(10)
    rng.shuffle(first)
    rng.shuffle(second)
    assert y_train.tolist() == first.tolist() and y_test.tolist() == second.tolist()
    assert first.tolist() != second.tolist()


def test_a_2d_integer_array_of_sequences_is_read_too(tmp_path, keras):
    np.savez(tmp_path / "imdb.npz", x_train=np.array([[1, 2], [3, 4]]), y_train=np.array([0, 1]),
             x_test=np.array([[5, 6]]), y_test=np.array([1]))
    (x_train, _), (x_test, _) = imdb.load_data(tmp_path / "imdb.npz", seed=0, num_words=100)
    assert sorted(keras.rows(x_train)) == [[1, 4, 5], [1, 6, 7]]
    assert keras.rows(x_test) == [[1, 8, 9]]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_words=-1), ValueError, "Received: num_words=-1"),
    (dict(skip_top=-2), ValueError, "Received: skip_top=-2"),
    (dict(maxlen=-5), ValueError, "Received: maxlen=-5"),
    (dict(maxlen=2.5), TypeError, "Received: maxlen=2.5"),
    (dict(start_char="1"), TypeError, "Received: start_char='1'"),
    (dict(oov_char=1.0), TypeError, "Received: oov_char=1.0"),
    (dict(index_from=None), TypeError, "Received: index_from=None"),
    (dict(index_from=2**62), ValueError, "below 2\\*\\*62"),
    (dict(path=3), TypeError, "Received: path=3"),
])
def test_bad_arguments(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        imdb.load_data(**{"path": tiny, **kwargs})


@pytest.mark.parametrize("x_train, match", [
    ([[1, 2], [1.5]], "x_train: sequence 1 holds something other than integer word indices"),
    ([[1, 2], ["a"]], "x_train: sequence 1 holds something other than integer word indices"),
    ([[1, 2], [[3]]], "x_train: sequence 1 holds something other than integer word indices"),
    ([[1, 2], [2**70]], "x_train: sequence 1 holds something other than integer word indices"),
    ([[1], (2, 3)], "x_train: sequence 1 is a tuple; expected a list"),
])
def test_malformed_sequences_name_the_file_array_and_row(tmp_path, keras, x_train, match):
    x = np.empty(len(x_train), dtype=object)
    for i, row in enumerate(x_train):
        x[i] = row
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=x, y_train=np.zeros(len(x_train), np.int64),
             x_test=keras.object_array([[1]]), y_test=np.zeros(1, np.int64))
    with pytest.raises(ValueError, match=match) as info:
        imdb.load_data(path)
    assert str(path) in str(info.value)


def test_labels_that_do_not_match_the_sequences(tmp_path, keras):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=keras.object_array([[1], [2]]), y_train=np.zeros(3),
             x_test=keras.object_array([[1]]), y_test=np.zeros(1))
    with pytest.raises(ValueError, match="expected sequences"):
        imdb.load_data(path)
    np.savez(path, x_train=keras.object_array([[1]]), y_train=np.zeros(1))
    with pytest.raises(ValueError, match=r"npz without \['x_test', 'y_test'\]"):
        imdb.load_data(path)


def test_a_pickle_that_runs_a_command_is_refused_and_nothing_runs(tmp_path, keras):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    x = keras.object_array([[1, 2], [3]])
    x[1] = Payload()
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=keras.object_array([[1]]),
             y_test=np.array([1]))
    with pytest.raises(ValueError, match=r"x_train: refused to load the global '(posix|nt)"
                                         r"\.system'") as info:
        imdb.load_data(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_search_order_path_then_env_then_fastnn_then_keras(tmp_path, keras, monkeypatch,
                                                           isolated_home):
    def write(folder, label):
        return keras.write_imdb(folder / "imdb.npz", [[1]], [label], [[2]], [label])

    def label():
        return int(imdb.load_data()[0][1][0])

    write(isolated_home / ".keras" / "datasets", 1)
    assert label() == 1
    write(isolated_home / ".fastnn" / "datasets", 2)
    assert label() == 2
    write(tmp_path / "env", 3)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    assert label() == 3
    # an explicit path: only that file (here a folder holding imdb.npz, then the file itself)
    write(tmp_path / "mine", 4)
    assert int(imdb.load_data(tmp_path / "mine")[0][1][0]) == 4
    assert int(imdb.load_data(str(tmp_path / "mine" / "imdb.npz"))[0][1][0]) == 4
    # a bare file name other than the default is looked for in the same folders
    keras.write_imdb(isolated_home / ".keras" / "datasets" / "imdb_small.npz", [[1]], [5], [[2]],
                     [5])
    assert int(imdb.load_data("imdb_small.npz")[0][1][0]) == 5


def test_offline_the_message_says_where_to_put_the_file(isolated_home):
    with pytest.raises(DatasetNotFoundError) as info:
        imdb.load_data()
    text = str(info.value)
    assert "IMDB is not on this machine and could not be downloaded" in text
    assert str(isolated_home / ".fastnn" / "datasets") in text
    assert str(isolated_home / ".keras" / "datasets") in text
    assert "imdb.npz" in text and "load_data(path=...)" in text
    assert "tf-keras-datasets/imdb.npz" in text


def test_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        imdb.load_data(tmp_path / "nowhere" / "imdb.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="has no imdb.npz"):
        imdb.load_data(tmp_path / "empty")


def test_get_word_index(tmp_path, keras, isolated_home):
    index = {"the": 1, "and": 2, "film": 17, "é": 4}
    keras.write_word_index(isolated_home / ".keras" / "datasets" / "imdb_word_index.json", index)
    assert imdb.get_word_index() == index
    path = keras.write_word_index(tmp_path / "words.json", {"a": 1})
    assert imdb.get_word_index(path) == {"a": 1}


@pytest.mark.parametrize("text, match", [
    ("{not json", "not a word-index JSON file"),
    ("[1, 2]", "expected a JSON object mapping words to integer indices"),
    ('{"a": "1"}', "expected a JSON object mapping words to integer indices"),
    ("[" * 100000 + "]" * 100000, "not a word-index JSON file"),
])
def test_a_bad_word_index_file(tmp_path, text, match):
    path = tmp_path / "words.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        imdb.get_word_index(path)


def test_get_word_index_offline(isolated_home):
    with pytest.raises(DatasetNotFoundError, match="imdb_word_index.json"):
        imdb.get_word_index()
