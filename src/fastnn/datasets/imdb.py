"""IMDB movie reviews: 25,000 training and 25,000 test reviews as word-index sequences, labelled
positive (1) or negative (0), in Keras' format."""

from __future__ import annotations

import os
from typing import Dict, Optional, Union

import numpy as np

from . import _sequences as seq
from ._files import Arrays, find_file

__all__ = ["load_data", "get_word_index"]

_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
# Keras publishes only an md5 for the word index.
_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def load_data(path: Union[str, os.PathLike[str]] = "imdb.npz", num_words: Optional[int] = None,
              skip_top: int = 0, maxlen: Optional[int] = None, seed: Optional[int] = 113,
              start_char: Optional[int] = 1, oov_char: Optional[int] = 2,
              index_from: int = 3) -> Arrays:
    """Loads the IMDB reviews as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Each review is a list of word indices, words ranked by frequency (index 1 the most
    frequent word of the data). ``x_*`` are object arrays of lists of ints, made as Keras
    makes them (``np.array(lists, dtype=object)``: 1-d, or 2-d should every review left have
    one length); ``y_*`` the labels (0 negative, 1 positive), of the dtype the file stores them
    in, as Keras returns them.

    The steps, as in Keras: ``numpy.random.RandomState(seed)`` shuffles the training reviews,
    then, continuing, the test reviews; each review becomes ``[start_char] + [w + index_from
    for w in review]`` (only the shift when start_char is None); with ``maxlen``, reviews of
    ``maxlen`` or more indices (the start mark counted) are dropped with their labels, in each
    split; indices outside ``[skip_top, num_words)`` become ``oov_char``, or are dropped when it
    is None (the marks are indices like any other: ``skip_top=2`` turns the start mark 1 into
    ``oov_char``).

    Where the file is: ``path`` when it is an existing file (read as it is), else the file name
    ``path`` in ``$FASTNN_DATA``, ``~/.fastnn/datasets``, then Keras' cache
    ``~/.keras/datasets``; failing those, Keras' ``imdb.npz`` is downloaded into
    ``~/.fastnn/datasets`` and kept if its sha256 is the published one. The file's object arrays
    are pickles: they are rebuilt without running anything from the file (a pickle naming any
    other global than numpy's array reconstruction raises ValueError).

    Args:
        path: a file name to look for where Keras caches it, or a path to an npz file (or to a
            folder holding ``imdb.npz``). Defaults to ``'imdb.npz'``.
        num_words: keep the indices below this (the most frequent words). Defaults to None (as
            does 0): the largest index found in train and test together, which (as in Keras)
            makes that one index ``oov_char`` too.
        skip_top: indices below this become ``oov_char`` (the most frequent words). Defaults
            to 0.
        maxlen: drop the reviews whose sequence (start mark included) has ``maxlen`` or more
            indices. Defaults to None (as does 0): keep all.
        seed: the seed of the ``RandomState`` that shuffles. Defaults to 113.
        start_char: the index that starts every sequence, or None for none. Defaults to 1.
        oov_char: the index that replaces the words cut by ``num_words`` or ``skip_top``, or
            None to drop them. Defaults to 2.
        index_from: added to every word index of the file. Defaults to 3 (0 padding, 1 start,
            2 OOV).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: 25,000 reviews each in Keras' file.

    Raises:
        DatasetNotFoundError: no file and no download; the message says where to put it.
        ValueError: a corrupt or hostile file, an argument out of range, or ``maxlen`` leaving
            a split with no review.
        TypeError: an argument that is not an integer (or None where that is allowed).
    """
    num_words = seq.checked_int("num_words", num_words, none=True)
    skip_top = seq.checked_int("skip_top", skip_top)
    maxlen = seq.checked_int("maxlen", maxlen, none=True)
    start_char = seq.checked_int("start_char", start_char, none=True, negative=True)
    oov_char = seq.checked_int("oov_char", oov_char, none=True, negative=True)
    index_from = seq.checked_int("index_from", index_from, negative=True)
    file = find_file("IMDB", path, "imdb.npz", _URL + "imdb.npz", ("sha256", _NPZ_SHA256))
    train, test = seq.read_sequences(file, (("x_train", "y_train"), ("x_test", "y_test")))

    rng = np.random.RandomState(seed)
    train, test = seq.shuffled(train, rng), seq.shuffled(test, rng)
    train, test = (seq.marked(part, start_char, index_from) for part in (train, test))
    if maxlen:
        train, test = seq.shorter_than(train, maxlen), seq.shorter_than(test, maxlen)
        if not len(train.lengths) or not len(test.lengths):
            raise ValueError(f"IMDB: no {'training' if not len(train.lengths) else 'test'} "
                             f"review is shorter than maxlen={maxlen} (start mark included); "
                             f"increase maxlen")
    words = num_words or seq.default_num_words([train, test])
    train, test = (seq.vocabulary(part, words, skip_top, oov_char) for part in (train, test))
    return (seq.as_lists(train), train.labels), (seq.as_lists(test), test.labels)


def get_word_index(path: Union[str, os.PathLike[str]] = "imdb_word_index.json") -> Dict[str, int]:
    """The words of the IMDB data and their indices, as Keras' ``get_word_index`` gives them.

    Index 1 is the most frequent word. In ``load_data``'s sequences each word's index is
    shifted by ``index_from`` (3 by default: 0 padding, 1 start, 2 OOV), so
    ``{i + 3: w for w, i in get_word_index().items()}`` decodes them.

    The file is found as ``load_data`` finds its file; a download is checked against the md5
    that Keras publishes.

    Args:
        path: a file name to look for where Keras caches it, or a path to the JSON file.
            Defaults to ``'imdb_word_index.json'``.

    Returns:
        A dict from word to index.

    Raises:
        DatasetNotFoundError: no file and no download; the message says where to put it.
        ValueError: a file that is not a JSON object of words to integers.
    """
    file = find_file("The IMDB word index", path, "imdb_word_index.json",
                     _URL + "imdb_word_index.json", ("md5", _INDEX_MD5), "get_word_index")
    return seq.read_word_index(file)
