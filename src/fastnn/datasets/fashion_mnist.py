"""Fashion-MNIST (Zalando): 60,000 training and 10,000 test images, 28 x 28, 10 classes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ._files import IDX_FILES, Arrays, fastnn_cache, find_or_download, search_places

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")

_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# sha256 of the official gzipped files, as Keras publishes them.
_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}


def load_data(path: Optional[Union[str, os.PathLike[str]]] = None) -> Arrays:
    """Loads Fashion-MNIST as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Images are uint8 arrays of shape (n, 28, 28); labels uint8 of shape (n,) indexing
    ``CLASS_NAMES``.

    Looks, in order, at: ``path`` (an npz file, or a folder with the four IDX files);
    ``$FASTNN_DATA`` (and ``$FASTNN_DATA/fashion-mnist``); ``~/.fastnn/datasets/fashion-mnist``;
    Keras' cache ``~/.keras/datasets/fashion-mnist``; Debian's ``/usr/share/datasets/fashion-mnist``
    (package dataset-fashion-mnist). Failing those it downloads the four files, checks each
    sha256 and keeps them in ``~/.fastnn/datasets/fashion-mnist``.

    Args:
        path: an npz file in Keras' layout, or a folder with the four IDX files (gzipped or
            not) or ``fashion-mnist.npz``. Defaults to None, which searches the other places
            above; when given, no other place is tried.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        DatasetNotFoundError: nothing usable at ``path``, or nothing found and no network; the
            message says where to put files.
        ValueError: a file that is found but corrupt or not in the expected format.
    """
    extra = [Path.home() / ".keras" / "datasets" / "fashion-mnist",
             Path("/usr/share/datasets/fashion-mnist")]
    places = search_places("fashion-mnist", extra)
    return find_or_download(
        "Fashion-MNIST", path, "fashion-mnist.npz", places=places,
        downloads={f + ".gz": (_BASE_URL + f + ".gz", _SHA256[f + ".gz"]) for f in IDX_FILES},
        download_dir=fastnn_cache() / "fashion-mnist",
    )
