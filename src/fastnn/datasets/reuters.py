"""Reuters newswires: 11,228 newswires as word-index sequences, labelled with one of 46 topics, in
Keras' format."""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple, Union

import numpy as np

from . import _sequences as seq
from ._files import Arrays, find_file

__all__ = ["load_data", "get_word_index", "get_label_names"]

_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_NPZ_SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
# Keras publishes only an md5 for the word index.
_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"

# The topic of each label, in label order, as Keras 3 lists them.
_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path: Union[str, os.PathLike[str]] = "reuters.npz", num_words: Optional[int] = None,
              skip_top: int = 0, maxlen: Optional[int] = None, test_split: float = 0.2,
              seed: Optional[int] = 113, start_char: Optional[int] = 1,
              oov_char: Optional[int] = 2, index_from: int = 3) -> Arrays:
    """Loads the Reuters newswires as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Each newswire is a list of word indices, words ranked by frequency; its label (0 to 45)
    is its topic, named by ``get_label_names()``. ``x_*`` are object arrays of lists of ints,
    made as Keras makes them (``np.array(lists, dtype=object)``: 1-d, or 2-d should every
    newswire left have one length); ``y_*`` the labels, of the dtype the file stores them in
    (float64 when maxlen leaves a split empty, as in Keras).

    The steps, as in Keras: ``numpy.random.RandomState(seed)`` shuffles all 11,228 newswires;
    each becomes ``[start_char] + [w + index_from for w in newswire]`` (only the shift when
    start_char is None); with ``maxlen``, the sequences of ``maxlen`` or more indices (the
    start mark counted) are dropped with their labels; indices outside ``[skip_top,
    num_words)`` become ``oov_char``, or are dropped when it is None; the first
    ``int(n * (1 - test_split))`` of the n left are the training set (8,982 / 2,246 with the
    defaults).

    The file is found as ``imdb.load_data`` finds its own (``path``, ``$FASTNN_DATA``,
    ``~/.fastnn/datasets``, ``~/.keras/datasets``, else a download checked against Keras'
    sha256), and read without running anything from its pickles.

    Args:
        path: a file name to look for where Keras caches it, or a path to an npz file with
            arrays ``x`` and ``y`` (or to a folder holding ``reuters.npz``). Defaults to
            ``'reuters.npz'``.
        num_words: keep the indices below this. Defaults to None (as does 0): the largest
            index found, which (as in Keras) makes that one index ``oov_char`` too.
        skip_top: indices below this become ``oov_char``. Defaults to 0.
        maxlen: drop the sequences (start mark included) of ``maxlen`` or more indices.
            Defaults to None (as does 0): keep all.
        test_split: the fraction of newswires for the test set, in [0, 1). Defaults to 0.2.
        seed: the seed of the ``RandomState`` that shuffles. Defaults to 113.
        start_char: the index that starts every sequence, or None for none. Defaults to 1.
        oov_char: the index that replaces the words cut by ``num_words`` or ``skip_top``, or
            None to drop them. Defaults to 2.
        index_from: added to every word index of the file. Defaults to 3.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        DatasetNotFoundError: no file and no download; the message says where to put it.
        ValueError: a corrupt or hostile file, an argument out of range (a test_split outside
            [0, 1)), or ``maxlen`` leaving no newswire.
        TypeError: an argument that is not an integer (or None where that is allowed).
    """
    num_words = seq.checked_int("num_words", num_words, none=True)
    skip_top = seq.checked_int("skip_top", skip_top)
    maxlen = seq.checked_int("maxlen", maxlen, none=True)
    start_char = seq.checked_int("start_char", start_char, none=True, negative=True)
    oov_char = seq.checked_int("oov_char", oov_char, none=True, negative=True)
    index_from = seq.checked_int("index_from", index_from, negative=True)
    fraction = seq.checked_split(test_split)
    file = find_file("Reuters", path, "reuters.npz", _URL + "reuters.npz",
                     ("sha256", _NPZ_SHA256))
    data, = seq.read_sequences(file, (("x", "y"),))

    data = seq.shuffled(data, np.random.RandomState(seed))
    data = seq.marked(data, start_char, index_from)
    if maxlen:
        data = seq.shorter_than(data, maxlen)
        if not len(data.lengths):
            raise ValueError(f"Reuters: no newswire is shorter than maxlen={maxlen} (start mark "
                             f"included); increase maxlen")
    data = seq.vocabulary(data, num_words or seq.default_num_words([data]), skip_top, oov_char)
    split = int(len(data.lengths) * (1 - fraction))
    # Keras' labels are a list once maxlen has filtered them, and numpy makes an empty list
    # float64: so does this, to return what Keras returns.
    y_train, y_test = (np.array([]) if maxlen and not len(y) else y
                       for y in (data.labels[:split], data.labels[split:]))
    return ((seq.as_lists(data, 0, split), y_train),
            (seq.as_lists(data, split), y_test))


def get_word_index(path: Union[str, os.PathLike[str]] = "reuters_word_index.json"
                   ) -> Dict[str, int]:
    """The words of the Reuters data and their indices, as Keras' ``get_word_index`` gives them.

    Index 1 is the most frequent word; ``load_data``'s sequences shift each by ``index_from``
    (3 by default). The file is found as ``load_data`` finds its file; a download is checked
    against the md5 that Keras publishes.

    Args:
        path: a file name to look for where Keras caches it, or a path to the JSON file.
            Defaults to ``'reuters_word_index.json'``.

    Returns:
        A dict from word to index.

    Raises:
        DatasetNotFoundError: no file and no download; the message says where to put it.
        ValueError: a file that is not a JSON object of words to integers.
    """
    file = find_file("The Reuters word index", path, "reuters_word_index.json",
                     _URL + "reuters_word_index.json", ("md5", _INDEX_MD5), "get_word_index")
    return seq.read_word_index(file)


def get_label_names() -> Tuple[str, ...]:
    """The 46 topics of the Reuters labels, in label order (label 3 is ``'earn'``), as Keras 3
    lists them.

    Returns:
        A tuple of 46 strings.
    """
    return _LABEL_NAMES
