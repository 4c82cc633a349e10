"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28, 10 classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ._files import Arrays, fastnn_cache, find_or_download, read_idx, search_places

__all__ = ["load_data", "load_sample"]

_SAMPLE = Path(__file__).parent / "data" / "mnist_sample"
# Keras' copy of MNIST and its published sha256.
_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: Optional[Union[str, os.PathLike[str]]] = None) -> Arrays:
    """Loads MNIST as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Images are uint8 arrays of shape (n, 28, 28); labels uint8 of shape (n,).

    Looks, in order, at: ``path`` (an npz file, or a folder with the four IDX files, gzipped or
    not); ``$FASTNN_DATA`` (and ``$FASTNN_DATA/mnist``); ``~/.fastnn/datasets/mnist``; Keras'
    cache ``~/.keras/datasets/mnist.npz``. Failing those it downloads Keras' ``mnist.npz``,
    checks its sha256 and keeps it in ``~/.fastnn/datasets/mnist``.

    Args:
        path: an npz file in Keras' layout, or a folder with the four IDX files (gzipped or
            not) or ``mnist.npz``. Defaults to None, which searches the other places
            above; when given, no other place is tried.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        DatasetNotFoundError: nothing usable at ``path``, or nothing found and no network; the
            message says where to put files.
        ValueError: a file that is found but corrupt or not in the expected format.
    """
    return find_or_download(
        "MNIST", path, "mnist.npz",
        places=search_places("mnist", [Path.home() / ".keras" / "datasets" / "mnist.npz"]),
        downloads={"mnist.npz": (_NPZ_URL, _NPZ_SHA256)},
        download_dir=fastnn_cache() / "mnist",
    )


def load_sample() -> Arrays:
    """The MNIST sample shipped with fastnn, offline: 5,000 real training digits (500 per
    class) and the official 10,000 test digits, in load_data's format.

    The training digits come in one fixed mixed order, as in MNIST's own training file (the
    shipped files hold them sorted by class, and code that batches without shuffling, like the
    book's from-scratch example, would see one class at a time)."""
    x_train = read_idx(_SAMPLE / "train-5k-images-idx3-ubyte.gz")
    y_train = read_idx(_SAMPLE / "train-5k-labels-idx1-ubyte.gz")
    # RandomState's stream is frozen across numpy versions: the same order everywhere.
    order = np.random.RandomState(0).permutation(len(y_train))
    return ((x_train[order], y_train[order]),
            (read_idx(_SAMPLE / "t10k-images-idx3-ubyte.gz"),
             read_idx(_SAMPLE / "t10k-labels-idx1-ubyte.gz")))
