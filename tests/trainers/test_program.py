"""The compiled program (fastnn._C.Program): the same training as the op-by-op path (the layers'
ops under a GradientTape) for every optimizer, loss, activation and graph feature it runs; the
reasons it gives when it cannot run a model; thread-count bit identity; no allocation per step;
bad rows and labels refused before anything is written."""

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


def stack(hidden, out_units, out_act, use_bias=True, d=13):
    model = models.Sequential([layers.Input((d,))])
    for units, act in hidden:
        model.add(layers.Dense(units, activation=act, use_bias=use_bias))
    model.add(layers.Dense(out_units, activation=out_act, use_bias=use_bias))
    return model


def train_both(make, compile_args, x, y, **fit):
    """[(model, history) compiled, (model, history) op by op], trained from the same seed."""
    results = []
    for eager in (False, True):
        set_random_seed(7)
        model = make()
        model.compile(**compile_args(), run_eagerly=eager)
        plan = model.execution_plan()["fit"]
        assert plan.startswith("compiled") != eager, plan
        results.append((model, model.fit(x, y, verbose=0, **fit)))
    return results


def assert_same_training(results, x, rtol=2e-5):
    (fused, h_fused), (plain, h_plain) = results
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol / 10)
    assert h_fused.history.keys() == h_plain.history.keys()
    for key in h_fused.history:
        np.testing.assert_allclose(h_fused.history[key], h_plain.history[key], rtol=1e-5, atol=1e-7)
    a, b = fused.predict(x), plain.predict(x)
    for p, q in zip(a, b) if isinstance(a, list) else [(a, b)]:
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


CASES = [
    # hidden layers, output units / activation, loss, optimizer, targets
    ([(17, "relu")], 4, "softmax", "sparse_categorical_crossentropy", "rmsprop", "labels"),
    ([(17, "relu"), (9, "tanh")], 4, "softmax", "categorical_crossentropy", "adam", "onehot"),
    ([(16, "sigmoid")], 4, "softmax", "sparse_categorical_crossentropy", "adagrad", "labels"),
    ([(8, "linear"), (5, "relu")], 4, "softmax", "sparse_categorical_crossentropy",
     optimizers.SGD(0.05, momentum=0.9, nesterov=True), "labels"),
    ([(12, "relu")], 1, "sigmoid", "binary_crossentropy", optimizers.SGD(0.1, momentum=0.5),
     "binary"),
    ([(12, "tanh")], 3, "sigmoid", "binary_crossentropy", optimizers.RMSprop(momentum=0.3),
     "multibinary"),
    ([(10, "relu")], 2, "linear", "mse", "adam", "regression"),
    ([(10, "relu")], 2, "linear", "mae", "sgd", "regression"),
    ([(10, "relu")], 4, "softmax", "mse", "rmsprop", "onehot"),  # the book's first listing
    ([(10, "tanh")], 2, "relu", "mse", "adam", "regression"),
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


def fresh(opt):
    return optimizers.get(opt.get_config() | {"class_name": type(opt).__name__}
                          if isinstance(opt, optimizers.Optimizer) else opt)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_compiled_training_matches_op_by_op(case, use_bias):
    hidden, units, act, loss, opt, kind = CASES[case]
    x, y = data()
    t = targets(kind, y, x)
    metrics = ["accuracy"] if act in ("softmax", "sigmoid") else ["mae"]
    results = train_both(lambda: stack(hidden, units, act, use_bias),
                         lambda: dict(optimizer=fresh(opt), loss=loss, metrics=metrics),
                         x, t, batch_size=32, epochs=3)
    assert_same_training(results, x)


def graph_model(d=13):
    """Two inputs, a shared dense layer with an l2 penalty, Add, Multiply, Average, Subtract,
    Concatenate, Dropout, an Activation layer after a linear Dense, Flatten, two outputs."""
    a = layers.Input((d,), name="a")
    b = layers.Input((2, 3), name="b")
    shared = layers.Dense(7, activation="tanh", name="shared",
                          kernel_regularizer=regularizers.l2(0.01))
    xa = shared(layers.Dense(6, activation="relu")(a))
    xb = shared(layers.Dense(6)(layers.Flatten()(b)))
    merged = layers.Concatenate()([xa, xb, layers.Add()([xa, xb]), layers.Multiply()([xa, xb]),
                                   layers.Average()([xa, xb, xa]), layers.Subtract()([xa, xb])])
    merged = layers.Dropout(0.3)(merged)
    cls = layers.Dense(4, activation="softmax", name="cls",
                       kernel_regularizer=regularizers.l1_l2(0.001, 0.002))(merged)
    h = layers.Activation("relu")(layers.Dense(5)(merged))
    reg = layers.Dense(2, name="reg")(h)
    return models.Model([a, b], [cls, reg])


def test_a_graph_of_every_compiled_layer_matches_op_by_op():
    x, y = data()
    xb = np.random.default_rng(1).standard_normal((len(x), 2, 3)).astype(np.float32)
    t = targets("regression", y, x)
    results = train_both(graph_model, lambda: dict(
        optimizer=optimizers.Adam(0.01), loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]]), [x, xb], [y, t],
        batch_size=32, epochs=3)
    assert_same_training(results, [x, xb])


def test_bias_penalties_match_op_by_op():
    # A bias penalty once made the program refuse the model ("belong to no dense step"), and a
    # kernel's and its bias' penalties on one layer must both go by what backward wrote.
    x, y = data()

    def make():
        return models.Sequential([
            layers.Input((13,)),
            layers.Dense(9, activation="relu", bias_regularizer=regularizers.l2(0.5),
                         kernel_regularizer=regularizers.l1_l2(0.01, 0.02)),
            layers.Dense(4, activation="softmax", bias_regularizer=regularizers.l1(0.3))])
    results = train_both(make, lambda: dict(optimizer="sgd",
                                            loss="sparse_categorical_crossentropy"),
                         x, y, batch_size=32, epochs=3)
    assert_same_training(results, x)


def test_sample_and_class_weights_match_op_by_op():
    x, y = data()
    w = np.random.default_rng(2).uniform(0, 2, len(x)).astype(np.float32)
    for fit in (dict(sample_weight=w), dict(class_weight={0: 1.0, 1: 2.0, 2: 0.5, 3: 1.5})):
        results = train_both(lambda: stack([(9, "relu")], 4, "softmax"),
                             lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                                          metrics=["accuracy"]),
                             x, y, batch_size=32, epochs=2, **fit)
        assert_same_training(results, x)


def test_frozen_layers_are_left_alone_on_both_paths():
    x, y = data()

    def make():
        model = stack([(9, "relu"), (7, "tanh")], 4, "softmax")
        model.layers[0].trainable = False
        return model
    results = train_both(make, lambda: dict(optimizer="rmsprop",
                                            loss="sparse_categorical_crossentropy"),
                         x, y, batch_size=32, epochs=2)
    assert_same_training(results, x)
    set_random_seed(7)
    before = make().layers[0].get_weights()
    for model, _ in results:
        for a, b in zip(model.layers[0].get_weights(), before):
            np.testing.assert_array_equal(a, b)


def test_a_nested_model_compiles_inline():
    x, y = data()

    def make():
        inner = models.Sequential([layers.Input((13,)), layers.Dense(8, activation="relu")],
                                  name="inner")
        i = layers.Input((13,))
        return models.Model(i, layers.Dense(4, activation="softmax")(inner(i)))
    results = train_both(make,
                         lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy"),
                         x, y, batch_size=32, epochs=2)
    assert_same_training(results, x)


def test_dropout_masks_are_the_same_on_both_paths():
    x = np.ones((64, 40), np.float32)
    outs = []
    for eager in (False, True):
        set_random_seed(3)
        i = layers.Input((40,))
        model = models.Model(i, layers.Dropout(0.5)(i))
        model.compile("sgd", "mse", run_eagerly=eager)
        # a step with nothing to train still runs the forward pass: read the output's mask
        # through the loss, which is mean((x * mask - 0)^2) = mean(mask^2)
        outs.append(model.train_on_batch(x, np.zeros_like(x)))
    assert outs[0] == pytest.approx(outs[1], rel=1e-6)
    assert 1.5 < outs[0] < 2.5  # half the units kept, scaled by 2: mean of mask^2 is about 2


def test_the_reasons_a_model_runs_op_by_op():
    class Custom(layers.Layer):
        def call(self, inputs, training=None):
            return fastnn.ops.relu(inputs)

    class MyRMSprop(optimizers.RMSprop):
        pass

    def my_loss(y_true, y_pred):
        return fastnn.losses.mean_squared_error(y_true, y_pred)

    i = layers.Input((5,))
    custom = models.Model(i, layers.Dense(3)(Custom(name="odd")(i)))
    custom.compile("sgd", "mse")
    plan = custom.execution_plan()
    assert plan["fit"] == "op by op: layer 'odd' (Custom) has no C++ kernel"
    assert plan["predict"] == plan["fit"]

    model = stack([(8, "relu")], 4, "softmax", d=5)
    model.compile(MyRMSprop(), "sparse_categorical_crossentropy")
    plan = model.execution_plan()
    assert "MyRMSprop" in plan["fit"] and plan["evaluate"].startswith("compiled")
    model.compile("adam", my_loss)
    assert "custom function (my_loss)" in model.execution_plan()["fit"]
    assert model.execution_plan()["predict"].startswith("compiled")
    model.compile("adam", "binary_crossentropy")  # on a softmax output: no fused kernel
    assert "binary_crossentropy" in model.execution_plan()["evaluate"]
    model.compile("adam", "mse", run_eagerly=True)
    assert model.execution_plan()["fit"] == "op by op: run_eagerly=True"

    lines = []
    custom.summary(print_fn=lines.append)
    assert "fit: op by op: layer 'odd' (Custom) has no C++ kernel" in lines


def test_the_compiled_step_does_not_depend_on_thread_count(restore_threads):
    x, y = data(n=700, d=300)
    weights = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        set_random_seed(11)
        model = stack([(200, "relu")], 4, "softmax", d=300)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=128, epochs=2, verbose=0)
        weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def compiled_steps(model, x, y, tracker_rows, count, batch):
    """Runs ``count`` compiled training steps through the trainer's step function."""
    from fastnn.trainers.compile_utils import Tracker
    data_set = model._dataset(x, y, None, None, "test")
    plan = model._current_plan()
    step = model._step_function(data_set, True, Tracker(plan.outputs))
    batches = [tracker_rows[(i * batch) % (len(x) - batch):][:batch] for i in range(count)]

    def run():
        for rows in batches:
            step(rows)
    return run


@pytest.mark.parametrize("threads", [1, 2])
def test_a_warm_training_step_allocates_nothing(threads, restore_threads):
    fastnn.set_num_threads(threads)
    x, y = data(n=1000, d=64)
    model = stack([(128, "relu")], 4, "softmax", d=64)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=100, epochs=1, verbose=0)  # warm up: scratch, packing buffers
    order = np.random.default_rng(0).permutation(len(x))
    run = compiled_steps(model, x, y, order, 10, 100)
    run()
    before = _C.allocation_count()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # A batch-sized numpy temporary would be >= 1.6 KB (100 rows x 4 classes x 4 bytes); what
    # remains is Python's own small objects (argument tuples, the logs' floats).
    assert peak < 1024, f"{peak} bytes of Python/numpy memory allocated during the steps"
    compiled_steps(model, x, y, order, 100, 100)()
    model.fit(x, y, batch_size=100, epochs=3, verbose=0)
    # Each worker thread's packing buffers are made the first time that worker joins a GEMM,
    # which depends on timing: at most two per worker, however many steps run.
    assert _C.allocation_count() - before <= 2 * (threads - 1)


def test_bad_rows_and_labels_are_refused_before_anything_is_written():
    x, y = data()
    model = stack([(8, "relu")], 4, "softmax")
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    program = model._current_plan().program
    snapshot = model.get_weights()
    labels = y.astype(np.int64)
    bound = program.data([x], [(labels, None, None)])
    ws = program.workspace()
    stats = np.zeros(3)
    hyper = model.optimizer._hyper_values()
    with pytest.raises(IndexError, match="row index 203 is out of range for 203 samples"):
        program.train_step(ws, bound, np.array([0, 203]), hyper, 1, stats)
    with pytest.raises(IndexError, match="row index -1"):
        program.train_step(ws, bound, np.array([-1]), hyper, 1, stats)
    bad = labels.copy()
    bad[5] = 4
    with pytest.raises(IndexError, match="label 4 of sample 5 is out of range for 4 classes"):
        program.train_step(ws, program.data([x], [(bad, None, None)]), np.array([1, 5]), hyper,
                           1, stats)
    with pytest.raises(TypeError, match="rows must be"):
        program.train_step(ws, bound, np.array([1.0]), hyper, 1, stats)
    with pytest.raises(ValueError, match="13 contiguous columns"):
        program.data([x[:, :5]], [(labels, None, None)])
    with pytest.raises(ValueError, match="labels or its target rows"):
        program.data([x], [(None, None, None)])
    other = stack([(8, "relu")], 4, "softmax")
    other.compile("sgd", "sparse_categorical_crossentropy")
    other.fit(x, y, epochs=1, verbose=0)
    other_program = other._current_plan().program
    with pytest.raises(ValueError, match="data was bound by another program"):
        other_program.train_step(other_program.workspace(), bound, np.array([1]), hyper, 1, stats)
    with pytest.raises(ValueError, match="workspace belongs to another program"):
        other_program.test_step(ws, other_program.data([x], [(labels, None, None)]),
                                np.array([1]), stats)
    for a, b in zip(snapshot, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_output_without_targets_counts_nothing_on_both_paths():
    x, y = data()
    results = []
    for eager in (False, True):
        set_random_seed(4)
        i = layers.Input((13,))
        h = layers.Dense(6, activation="relu")(i)
        model = models.Model(i, [layers.Dense(4, activation="softmax", name="cls")(h),
                                 layers.Dense(2, activation="softmax", name="aux")(h)])
        model.compile("adam", {"cls": "sparse_categorical_crossentropy"},
                      metrics={"cls": ["accuracy"], "aux": ["accuracy"]}, run_eagerly=eager)
        results.append(model.fit(x, {"cls": y}, epochs=2, verbose=0).history)
    assert results[0]["aux_accuracy"] == results[1]["aux_accuracy"] == [0.0, 0.0]
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-5)
