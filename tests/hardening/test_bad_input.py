"""Bad input: non-finite data, wrong shapes and dtypes, arrays the kernels cannot read as they
are, labels out of range; each gets a clear exception or numpy's answer (issue 12's minor
points among them)."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import _C, callbacks, layers, models, ops
from fastnn.utils import set_random_seed


def test_nan_and_inf_inputs_stop_fit_with_terminate_on_nan(blobs, mlp):
    x, y = blobs(256, 20, 4)
    for bad in (np.nan, np.inf):
        set_random_seed(0)
        model = mlp()
        assert model.execution_plan()["fit"].startswith("compiled")
        xb = x.copy()
        xb[:, 3] = bad
        history = model.fit(xb, y, batch_size=32, epochs=3, verbose=0,
                            callbacks=[callbacks.TerminateOnNaN()])
        assert model.stop_training
        assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
        assert model.predict(x[:2]).shape == (2, 4)  # the process and the model live on


def test_predict_and_evaluate_check_the_feature_count(blobs, mlp):
    model = mlp()
    x, y = blobs(256, 20, 4)
    with pytest.raises(ValueError,
                       match=r"expects inputs of shape \(None, 20\); received \(256, 19\)"):
        model.predict(x[:, :19])
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 20\)"):
        model.evaluate(x[:, :19], y, verbose=0)
    with pytest.raises(ValueError, match="Valid optimizers: adagrad, adam, rmsprop, sgd"):
        model.compile("adamw", "mse")
    with pytest.raises(TypeError, match="must be numeric"):
        model.predict(np.array([["a"] * 20]))


@pytest.mark.parametrize("eager", [False, True])
def test_targets_shaped_unlike_the_output_are_named(eager):
    x = np.ones((8, 4), np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile("sgd", "mse", run_eagerly=eager)
    with pytest.raises(ValueError, match=r"mean_squared_error needs targets shaped like the "
                                         r"model's output, \(8, 2\); received \(8, 3\)"):
        model.fit(x, np.ones((8, 3)), verbose=0)
    binary = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    binary.compile("sgd", "binary_crossentropy", run_eagerly=eager)
    binary.fit(x, np.ones(8), verbose=0)  # (n,) labels for one sigmoid output are fine
    with pytest.raises(ValueError, match=r"\(8, 1\); received \(8, 2\)"):
        binary.fit(x, np.ones((8, 2)), verbose=0)


def test_the_private_bindings_refuse_misaligned_arrays():
    from fastnn import _C

    odd = np.zeros(4 * 8 + 1, np.uint8)[1:].view(np.float32).reshape(2, 4)
    out = np.empty((2, 4), np.float32)
    with pytest.raises(ValueError, match="aligned to 4 bytes"):
        _C.unary(_C.UnaryOp.relu, odd, out)
    np.testing.assert_array_equal(ops.relu(odd), np.zeros((2, 4)))  # the public op copies it


def test_empty_unaligned_views_are_accepted():
    # Minor: an empty view of a byte buffer at an odd address was refused as misaligned; it is
    # never read, and numpy calls it aligned.
    empty = np.frombuffer(np.zeros(9, np.uint8).data, np.uint8, 0, 1).view(np.float32)
    assert empty.ctypes.data % 4 == 1
    assert ops.add(empty, empty).shape == (0,)
    out = np.empty(0, np.float32)
    _C.unary(_C.UnaryOp.relu, empty, out)
    assert ops.matmul(empty.reshape(0, 0), empty.reshape(0, 0)).shape == (0, 0)


def test_relu_of_negative_zero_is_positive_zero_as_numpy_maximum():
    # Minor: relu(-0.0) gave -0.0 where np.maximum(x, 0) gives 0.0.
    x = np.array([-0.0, 0.0, -1.0, 2.0, np.nan] + [-0.0] * 100, np.float32)
    expected = np.maximum(x, np.float32(0))
    for got in (ops.relu(x), ops.relu(x[:, None])[:, 0],
                ops.dense(x[:, None], np.ones((1, 1), np.float32), None, "relu")[:, 0]):
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("update", ["sgd", "rmsprop", "adagrad", "adam"])
def test_optimizer_updates_of_zero_dimensional_arrays(update):
    # Minor: a 0-d parameter's gradient became 1-d (np.ascontiguousarray), a shape error.
    param = np.array(1.0, np.float32)
    grad = np.array(0.5, np.float32)
    slot, slot2 = np.zeros((), np.float32), np.zeros((), np.float32)
    full = np.array([1.0], np.float32)
    args = {"sgd": ((), {}), "rmsprop": ((slot,), {}), "adagrad": ((slot,), {}),
            "adam": ((slot, slot2), {"step": 1})}[update]
    getattr(ops, f"{update}_update")(param, grad, *args[0], **args[1])
    fresh = [np.zeros(1, np.float32) for _ in args[0]]
    getattr(ops, f"{update}_update")(full, grad.reshape(1), *fresh, **args[1])
    assert param.shape == () and param == full[0] and param != 1.0


def test_labels_beyond_int64_are_named_as_they_are():
    # Minor: a uint64 label of 2**63 + 1 was reported as a negative number.
    labels = np.array([0, 2**63 + 1], np.uint64)
    with pytest.raises(ValueError, match="label 9223372036854775809 at index 1 is out of range"):
        ops.softmax_cross_entropy(np.zeros((2, 4), np.float32), labels)
    model = models.Sequential([layers.Input((3,)), layers.Dense(4, activation="softmax")])
    for eager in (False, True):
        model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=eager)
        with pytest.raises(ValueError, match="label 9223372036854775809 at index 1"):
            model.fit(np.zeros((2, 3), np.float32), labels, verbose=0)
    with pytest.raises(ValueError, match="to_categorical: 2 labels of 9223372036854775810 "
                                         "classes do not fit in memory"):
        from fastnn.utils import to_categorical
        to_categorical(labels)
