"""Metrics: per-sample values, and 'accuracy' resolved as Keras resolves it."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import metrics


def test_metrics():
    p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], np.float32)
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(2)[[1, 1, 1]], p), [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 0, 0], p), [1, 1, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy([[1], [0]], [[0.7], [0.6]]), [1, 0])
    assert metrics.get("accuracy", "binary_crossentropy")[1] is metrics.binary_accuracy
    assert metrics.get("accuracy", "sparse_categorical_crossentropy")[1] is metrics.sparse_categorical_accuracy
    assert metrics.get("acc", "mse", 1)[1] is metrics.binary_accuracy
    assert metrics.get("accuracy", "mse", 4)[1] is metrics.categorical_accuracy
    labels = np.array([0, 1, 1])
    assert metrics.resolve_accuracy(metrics.categorical_accuracy, labels, 2) is \
        metrics.sparse_categorical_accuracy
    with pytest.raises(ValueError, match="Valid metrics"):
        metrics.get("f1ish")
