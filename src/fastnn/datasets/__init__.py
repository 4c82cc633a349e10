"""Datasets in Keras' format: ``(x_train, y_train), (x_test, y_test)`` numpy arrays."""

from __future__ import annotations

from . import boston_housing, fashion_mnist, imdb, mnist, reuters
from ._files import DatasetNotFoundError, read_idx

__all__ = ["mnist", "fashion_mnist", "imdb", "reuters", "boston_housing", "read_idx",
           "DatasetNotFoundError"]
