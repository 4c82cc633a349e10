"""The fused training step and inference (fastnn._C.Mlp) against the layer-by-layer path."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import fastnn
from fastnn import _C, layers, models, optimizers, regularizers
from fastnn.utils import set_random_seed, to_categorical


def data(n=203, d=13, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, (k, d))
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y


def build(hidden, out_units, out_act, loss, optimizer, use_bias=True, d=13, metrics=None):
    model = models.Sequential([layers.Input((d,))])
    for units, act in hidden:
        model.add(layers.Dense(units, activation=act, use_bias=use_bias))
    model.add(layers.Dense(out_units, activation=out_act, use_bias=use_bias))
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def train_both(make, x, y, **fit):
    """(fused model, layer-by-layer model, their histories) trained from the same seed."""
    results = []
    for fused in (True, False):
        set_random_seed(7)
        model = make()
        model.fused_step = fused
        assert (model._fused_mlp(training=True) is not None) == fused
        history = model.fit(x, y, verbose=0, **fit)
        results += [model, history]
    return results


CASES = [
    # hidden layers, output units / activation, loss, optimizer, targets
    ([(17, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "rmsprop", "labels"),
    ([(17, "relu"), (9, "tanh")], 4, "softmax", "categorical_crossentropy", "adam", "onehot"),
    ([(16, "sigmoid")], 4, "softmax", "sparse_categorical_crossentropy", "adagrad", "labels"),
    ([(8, "linear"), (5, "relu")], 4, "softmax", "sparse_categorical_crossentropy",
     optimizers.SGD(0.05, momentum=0.9, nesterov=True), "labels"),
    ([(12, "relu")], 1, "sigmoid", "binary_crossentropy", optimizers.SGD(0.1, momentum=0.5), "binary"),
    ([(12, "tanh")], 3, "sigmoid", "binary_crossentropy", optimizers.RMSprop(momentum=0.3), "multibinary"),
    ([(10, "relu")], 2, "linear", "mse", "adam", "regression"),
    ([], 4, "softmax", "sparse_categorical_crossentropy", "sgd", "labels"),
]


def targets(kind, y, x):
    if kind == "labels":
        return y
    if kind == "onehot":
        return to_categorical(y, 4)
    if kind == "binary":
        return (y % 2).astype(np.float32)
    if kind == "multibinary":
        return np.stack([y == 0, y == 1, y > 1], axis=1).astype(np.float32)
    return np.stack([x[:, 0] + x[:, 1], x[:, 2] * 0.5], axis=1)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_fused_step_matches_layer_by_layer(case, use_bias):
    hidden, units, act, loss, opt, kind = CASES[case]
    x, y = data()
    t = targets(kind, y, x)
    metrics = ["accuracy"] if act == "softmax" else None

    def make():
        o = optimizers.get(opt.get_config() | {"class_name": type(opt).__name__}
                           if isinstance(opt, optimizers.Optimizer) else opt)
        return build(hidden, units, act, loss, o, use_bias=use_bias, metrics=metrics)

    fused, h_fused, plain, h_plain = train_both(make, x, t, batch_size=32, epochs=3)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(h_fused.history["loss"], h_plain.history["loss"], rtol=1e-5)
    if metrics:
        np.testing.assert_allclose(h_fused.history["accuracy"], h_plain.history["accuracy"])
    np.testing.assert_allclose(fused.predict(x), plain.predict(x), rtol=1e-5, atol=1e-6)


def test_fused_predict_matches_layer_by_layer():
    x, _ = data(n=1100)  # more rows than one inference block
    set_random_seed(3)
    model = build([(33, "relu"), (7, "sigmoid")], 5, "softmax", "categorical_crossentropy", "adam")
    fused = model.predict(x)
    model.fused_step = False
    np.testing.assert_allclose(fused, model.predict(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: models.Sequential([layers.Input((13,)), layers.Dense(8, activation="relu"),
                               layers.Dropout(0.5), layers.Dense(4, activation="softmax")]),
    lambda: models.Sequential([layers.Input((13,)), layers.Dense(8, kernel_regularizer=regularizers.l2(1e-3)),
                               layers.Dense(4, activation="softmax")]),
    lambda: models.Sequential([layers.Input((13,)), layers.Dense(8), layers.Activation("relu"),
                               layers.Dense(4, activation="softmax")]),
    lambda: models.Sequential([layers.Input((13,)), layers.Dense(4, activation="relu")]),
])
def test_models_the_fused_step_cannot_run_train_layer_by_layer(make):
    model = make()
    model.compile("rmsprop", "sparse_categorical_crossentropy")
    assert model._fused_mlp(training=True) is None
    x, y = data()
    model.fit(x, y, verbose=0, epochs=2)  # and still trains
    assert np.isfinite(model.evaluate(x, y, verbose=0))


def test_loss_and_optimizer_choose_the_path():
    model = build([(8, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "rmsprop")
    assert model._fused_mlp(training=True) is not None

    class MyRMSprop(optimizers.RMSprop):
        pass

    model.compile(MyRMSprop(), "sparse_categorical_crossentropy")
    assert model._fused_mlp(training=True) is None  # a subclass may change the update
    assert model._fused_mlp(training=False) is not None  # inference does not care
    model.compile("adam", "mse")  # softmax output with mse: not a fused pair
    assert model._fused_mlp(training=True) is None


def test_fused_step_does_not_depend_on_thread_count(restore_threads):
    x, y = data(n=700, d=300)
    weights = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        set_random_seed(11)
        model = build([(200, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "adam", d=300)
        model.fit(x, y, batch_size=128, epochs=2, verbose=0)
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def steps(model, x, labels, order, count, batch):
    mlp = model._fused_mlp(training=True)
    for step in range(count):
        start = step * batch % (len(x) - batch)
        mlp.train_step(x, order[start:start + batch], labels, None,
                       *model.optimizer._begin_fused_step(model._params.size))


@pytest.mark.parametrize("threads", [1, 2])
def test_training_step_allocates_nothing_per_batch(threads, restore_threads):
    fastnn.set_num_threads(threads)
    x, y = data(n=1000, d=64)
    model = build([(128, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "adam", d=64,
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=100, epochs=1, verbose=0)  # warm up: scratch, packing buffers
    labels = y.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    before = _C.allocation_count()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        steps(model, x, labels, order, 10, 100)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # A batch-sized numpy temporary would be >= 1.6 KB (100 rows x 4 classes x 4 bytes); what
    # remains is Python's own small objects (the argument tuple, the result pair).
    assert peak < 1024, f"{peak} bytes of Python/numpy memory allocated during the steps"
    steps(model, x, labels, order, 100, 100)
    model.fit(x, y, batch_size=100, epochs=3, verbose=0)
    # Each worker thread's packing buffers are made the first time that worker joins a GEMM,
    # which depends on timing: at most two per worker, however many steps run.
    assert _C.allocation_count() - before <= 2 * (threads - 1)


def test_train_step_rejects_bad_rows_and_labels_before_writing():
    x, y = data()
    model = build([(8, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "sgd")
    model.fit(x, y, epochs=1, verbose=0)
    mlp = model._fused_mlp(training=True)
    snapshot = model.get_weights()
    labels = y.astype(np.int64)
    opt = model.optimizer._kernel_args()
    with pytest.raises(IndexError, match="row index 203 is out of range for 203 samples"):
        mlp.train_step(x, np.array([0, 203]), labels, None, *opt)
    with pytest.raises(IndexError, match="row index -1"):
        mlp.train_step(x, np.array([-1]), labels, None, *opt)
    bad = labels.copy()
    bad[5] = 4
    with pytest.raises(IndexError, match="label 4 of sample 5 is out of range for 4 classes"):
        mlp.train_step(x, np.array([1, 5]), bad, None, *opt)
    with pytest.raises(TypeError, match="rows must be"):
        mlp.train_step(x, np.array([1.0]), labels, None, *opt)
    with pytest.raises(ValueError, match="13 contiguous columns"):
        mlp.train_step(x[:, :5], np.array([1]), labels, None, *opt)
    with pytest.raises(ValueError, match="labels or targets"):
        mlp.train_step(x, np.array([1]), None, None, *opt)
    for a, b in zip(snapshot, model.get_weights()):
        np.testing.assert_array_equal(a, b)
