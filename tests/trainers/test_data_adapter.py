"""The data adapter: arrays, lists and dicts to one array per input and per output, checked."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.trainers.compile_utils import resolve_outputs
from fastnn.trainers.data_adapter import Dataset, inputs, sample_weights, targets


def test_inputs_by_position_and_by_name():
    a, b = np.ones((4, 2)), np.zeros((4, 3), np.int64)
    xs = inputs([a, b], ["a", "b"], [(None, 2), (None, 3)], "fit")
    assert [x.dtype for x in xs] == [np.float32, np.float32] and xs[1].shape == (4, 3)
    xs = inputs({"b": b, "a": a}, ["a", "b"], None, "fit")
    assert xs[0].shape == (4, 2)
    assert inputs([[1.0, 2.0], [3.0, 4.0]], ["x"], None, "fit")[0].shape == (2, 2)  # nested lists
    assert inputs([a], ["x"], None, "fit")[0].shape == (4, 2)  # a list of one array
    with pytest.raises(ValueError, match=r"2 inputs \(a, b\); received 1 array"):
        inputs(a, ["a", "b"], None, "fit")
    with pytest.raises(ValueError, match="keys"):
        inputs({"a": a}, ["a", "b"], None, "fit")
    with pytest.raises(ValueError, match="different numbers of samples"):
        inputs([a, b[:3]], ["a", "b"], None, "fit")
    with pytest.raises(ValueError, match="batch axis"):
        inputs(np.ones(3), ["x"], None, "fit")
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 5\)"):
        inputs(a, ["x"], [(None, 5)], "fit")
    with pytest.raises(TypeError, match="numeric"):
        inputs(np.array([["a"]]), ["x"], None, "fit")


def test_targets_and_weights():
    outs = resolve_outputs(["c", "r"], [(None, 3), (None, 1)],
                           ["sparse_categorical_crossentropy", "mse"], None, None)
    ys = targets({"c": [0, 2, 1], "r": [1.0, 2.0, 3.0]}, outs, 3, "fit")
    assert ys[0].dtype == np.int64 and ys[1].shape == (3, 1) and ys[1].dtype == np.float32
    with pytest.raises(ValueError, match=r"label 3 at index 1 is out of range \[0, 3\)"):
        targets([[0, 3, 1], [1, 2, 3]], outs, 3, "fit")
    with pytest.raises(ValueError, match=r"mean_squared_error needs targets shaped like the "
                                         r"model's output, \(3, 1\); received \(3, 2\)"):
        targets([[0, 1, 1], np.ones((3, 2))], outs, 3, "fit")
    ws = sample_weights(np.array([1, 2, 3]), None, outs, ys, 3, "fit")
    assert all(w.dtype == np.float32 for w in ws) and np.array_equal(ws[0], ws[1])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        sample_weights(np.ones(4), None, outs, ys, 3, "fit")
    with pytest.raises(ValueError, match="one output"):
        sample_weights(None, {0: 1.0}, outs, ys, 3, "fit")


def test_validation_split_holds_out_the_last_rows():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    train, val = Dataset([x], [x], [None]).split(0.2)
    assert train.n == 8 and val.n == 2 and val.x[0][0, 0] == 8
