"""Boston housing prices: 506 suburbs of Boston in the 1970s, 13 features each, and the median
house price in k$, in Keras' format.

Keras warns about this dataset: one feature, "B", was built on the assumption that racial
self-segregation affects house prices. It is here because the book's regression example uses it.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np

from . import _sequences as seq
from ._files import Arrays, find_file, read_npz

__all__ = ["load_data"]

_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
_NPZ_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: Union[str, os.PathLike[str]] = "boston_housing.npz", test_split: float = 0.2,
              seed: Optional[int] = 113) -> Arrays:
    """Loads the Boston housing data as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    ``numpy.random.RandomState(seed)`` shuffles the rows; the first ``int(n * (1 -
    test_split))`` are the training set (404 of 506 with the defaults), the rest the test set.
    x has shape (rows, 13), y (rows,), both of the file's dtype (float64 in Keras' file).

    The file is found as ``imdb.load_data`` finds its own: ``path`` when it is an existing file
    (read as it is), else the file name in ``$FASTNN_DATA``, ``~/.fastnn/datasets``, Keras'
    cache ``~/.keras/datasets``; failing those, Keras' file is downloaded and kept if its
    sha256 is the published one.

    Args:
        path: a file name to look for where Keras caches it, or a path to an npz file with
            arrays ``x`` (rows, features) and ``y`` (rows,). Defaults to
            ``'boston_housing.npz'``.
        test_split: the fraction of rows for the test set, in [0, 1). Defaults to 0.2.
        seed: the seed of the ``RandomState`` that shuffles. Defaults to 113.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        DatasetNotFoundError: no file and no download; the message says where to put it.
        ValueError: test_split outside [0, 1), or a corrupt file or one without ``x`` and ``y``
            of matching rows.
    """
    fraction = seq.checked_split(test_split)
    file = find_file("Boston housing", path, "boston_housing.npz", _URL, ("sha256", _NPZ_SHA256))
    arrays = read_npz(file, {"x": "biuf", "y": "biuf"})
    x, y = arrays["x"], arrays["y"]
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{file}: expected x (rows, features) and y (rows,); got {x.shape} and "
                         f"{y.shape}")
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - fraction))
    return (x[:split], y[:split]), (x[split:], y[split:])
