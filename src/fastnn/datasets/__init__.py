"""Datasets in Keras' format: ``(x_train, y_train), (x_test, y_test)`` numpy arrays."""

from __future__ import annotations

from . import fashion_mnist, mnist
from ._files import DatasetNotFoundError, read_idx

__all__ = ["mnist", "fashion_mnist", "read_idx", "DatasetNotFoundError"]
