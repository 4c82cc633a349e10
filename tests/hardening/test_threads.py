"""Threads: any number may predict, evaluate and run ops on shared models at once and get the
single-thread answers bit for bit; inference during fit sees the weights of whole steps; a second
fit on the same weights raises instead of interleaving (issue 12, defects 1 and 2)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fastnn import callbacks, layers, models, ops, optimizers
from fastnn.utils import set_random_seed

# The stress test's calls per thread (also under ThreadSanitizer, where they take some 30 s).
CALLS = 500


class Doubled(layers.Layer):
    """A layer without a C++ kernel: a model using it runs op by op."""

    def call(self, x):
        return ops.multiply(x, 2.0)


def sequential(d=20):
    return models.Sequential([layers.Input((d,)), layers.Dense(32, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(4, activation="softmax")])


def functional(d=20):
    a, b = layers.Input((d,), name="a"), layers.Input((6,), name="b")
    shared = layers.Dense(16, activation="tanh")
    h = layers.Concatenate()([shared(a), layers.Dense(16)(b)])
    return models.Model([a, b], [layers.Dense(4, activation="softmax", name="cls")(h),
                                 layers.Dense(1, name="reg")(h)])


def op_by_op(d=20):
    return models.Sequential([layers.Input((d,)), layers.Dense(32, activation="relu"), Doubled(),
                              layers.Dense(4, activation="softmax")])


KINDS = {"compiled sequential": sequential, "compiled functional": functional,
         "op by op": op_by_op}


def inputs(model, x, extra):
    return [x, extra] if len(model.inputs) == 2 else x


def same(got, expected):
    """Bit for bit, for one output or a list of them."""
    if isinstance(got, list):
        return len(got) == len(expected) and all(map(np.array_equal, got, expected))
    return np.array_equal(got, expected)


def run_threads(targets, timeout=600):
    errors = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # reported below, with the thread's failure
                errors.append(repr(e))
        return run

    threads = [threading.Thread(target=guard(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    return errors


def test_threads_predicting_with_a_dense_activation_dense_stack():
    # Defect 1 as it was found: this stack ran layer by layer, its layers kept their per-call
    # buffers on self, and 225 of 600 predictions from two threads were wrong.
    set_random_seed(0)
    model = models.Sequential([layers.Input((64,)), layers.Dense(128), layers.Activation("relu"),
                               layers.Dense(10)])
    model.compile("rmsprop", "mse")
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((n, 64)).astype(np.float32) for n in (1, 5, 50, 299)]
    reference = [model.predict(x, verbose=0) for x in xs]
    wrong = []

    def predictor(seed):
        for i in np.random.default_rng(seed).integers(0, len(xs), CALLS):
            if not np.array_equal(model.predict(xs[i], verbose=0), reference[i]):
                wrong.append(int(i))

    errors = run_threads([lambda s=s: predictor(s) for s in range(4)])
    assert not errors, errors
    assert not wrong, f"{len(wrong)} of {4 * CALLS} predictions differ from one thread's"


@pytest.mark.parametrize("kind", list(KINDS))
def test_four_threads_predicting_get_the_single_thread_results_bit_for_bit(kind):
    set_random_seed(0)
    model = KINDS[kind]()
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"][:len(model.outputs)])
    assert (model.execution_plan()["predict"] == "compiled (one C++ call per batch)") == \
        kind.startswith("compiled")
    rng = np.random.default_rng(1)
    sizes = [1, 2, 7, 64, 300, 513, 1000]  # single rows, partial and several predict blocks
    xs = [rng.standard_normal((n, 20)).astype(np.float32) for n in sizes]
    extra = [rng.standard_normal((n, 6)).astype(np.float32) for n in sizes]
    reference = [model.predict(inputs(model, x, e)) for x, e in zip(xs, extra)]
    wrong = []

    def predictor(seed):
        order = np.random.default_rng(seed).integers(0, len(sizes), CALLS)
        for i in order:
            if not same(model.predict(inputs(model, xs[i], extra[i])), reference[i]):
                wrong.append((seed, int(i)))

    errors = run_threads([lambda s=s: predictor(s) for s in range(4)])
    assert not errors, errors
    assert not wrong, f"{len(wrong)} of {4 * CALLS} predictions differ from one thread's"


@pytest.mark.parametrize("eager", [False, True])
def test_threads_evaluating_at_once_get_the_single_thread_logs(eager):
    set_random_seed(0)
    model = sequential()
    # mae is computed in Python from the program's predictions: each thread reads its own
    model.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy", "mae"],
                  run_eagerly=eager)
    rng = np.random.default_rng(2)
    sets = []
    for n in (33, 200, 517):
        x = rng.standard_normal((n, 20)).astype(np.float32)
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
        sets.append((x, y, model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)))
    wrong = []

    def evaluator(seed):
        for i in np.random.default_rng(seed).integers(0, len(sets), max(20, CALLS // 10)):
            x, y, expected = sets[i]
            if model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True) != expected:
                wrong.append(int(i))

    errors = run_threads([lambda s=s: evaluator(s) for s in range(4)])
    assert not errors, errors
    assert not wrong


@pytest.mark.parametrize("kind", list(KINDS))
def test_predict_during_fit_on_the_same_model_is_exact(kind):
    """With a zero learning rate the weights stay bit-identical through fit, so inference in
    other threads must give the reference exactly: nothing of a training step leaks into it."""
    set_random_seed(0)
    model = KINDS[kind]()
    losses = ["sparse_categorical_crossentropy", "mse"][:len(model.outputs)]
    model.compile(optimizers.SGD(learning_rate=0.0), losses)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2000, 20)).astype(np.float32)
    e = rng.standard_normal((2000, 6)).astype(np.float32)
    y = [rng.integers(0, 4, 2000), rng.standard_normal(2000).astype(np.float32)][:len(losses)]
    probe = inputs(model, x[:100], e[:100])
    reference = model.predict(probe)
    done = threading.Event()
    calls, wrong = [0], []

    def trainer():
        try:
            model.fit(inputs(model, x, e), y if len(y) > 1 else y[0], batch_size=32, epochs=10,
                      verbose=0)
        finally:
            done.set()

    def predictor():
        while not done.is_set() or calls[0] < 50:
            got = model.predict(probe)
            calls[0] += 1
            if not same(got, reference):
                wrong.append(calls[0])

    errors = run_threads([trainer, predictor, predictor])
    assert not errors, errors
    assert not wrong, f"{len(wrong)} of {calls[0]} predictions during fit differ"


@pytest.mark.parametrize("eager", [False, True])
def test_inference_during_real_training_sees_the_weights_of_a_whole_step(eager):
    set_random_seed(0)
    model = sequential()
    model.compile(optimizers.SGD(learning_rate=0.05), "sparse_categorical_crossentropy",
                  run_eagerly=eager)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1024, 20)).astype(np.float32)
    y = rng.integers(0, 4, 1024)
    probe = x[:64]
    snapshots = [model.get_weights()]

    class Record(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append(model.get_weights())

    started, done = threading.Event(), threading.Event()
    seen = []

    def trainer():
        started.wait(60)
        try:
            # 3 epochs at least, and on until the predictor has had 10 turns: on a busy machine
            # 3 epochs of small steps can pass before its first.
            for epoch in range(100):
                model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Record()])
                if epoch >= 2 and len(seen) >= 10:
                    break
        finally:
            done.set()

    def predictor():
        seen.append(model.predict(probe))  # its workspace made before training starts
        started.set()
        while not done.is_set():
            seen.append(model.predict(probe))

    errors = run_threads([trainer, predictor])
    assert not errors, errors
    twin = sequential()
    expected = []
    for weights in snapshots:
        twin.set_weights(weights)
        expected.append(twin.predict(probe))
    torn = [i for i, got in enumerate(seen) if not any(np.array_equal(got, e) for e in expected)]
    assert len(seen) >= 10 and not torn, \
        f"{len(torn)} of {len(seen)} predictions match no step's weights"


@pytest.mark.parametrize("eager", [False, True])
def test_a_second_fit_on_the_same_weights_raises_and_corrupts_nothing(eager):
    set_random_seed(0)
    model = sequential()
    model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=eager)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4000, 20)).astype(np.float32)
    y = rng.integers(0, 4, 4000)
    started, release = threading.Event(), threading.Event()

    class Hold(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()
            release.wait(60)

    first = threading.Thread(target=lambda: model.fit(x, y, epochs=1, verbose=0,
                                                      callbacks=[Hold()]))
    first.start()
    assert started.wait(60)
    try:
        with pytest.raises(RuntimeError, match="being trained already, by fit of model "
                                               "'sequential.*' in another thread"):
            model.fit(x, y, epochs=1, verbose=0)
        with pytest.raises(RuntimeError, match="being trained already"):
            model.train_on_batch(x[:32], y[:32])
        # a model sharing a layer with it cannot train those weights either
        other = models.Sequential([layers.Input((20,)), model.layers[0],
                                   layers.Dense(4, activation="softmax")])
        other.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=eager)
        with pytest.raises(RuntimeError, match="being trained already"):
            other.fit(x, y, epochs=1, verbose=0)
        # inference goes on meanwhile
        assert model.predict(x[:5]).shape == (5, 4)
    finally:
        release.set()
        first.join(120)
    assert not first.is_alive()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    model.fit(x, y, epochs=1, verbose=0)  # free again once the first returned


def test_ops_from_many_threads_match_numpy():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 100)).astype(np.float32)
    expected = {"matmul": ops.matmul(a, b), "softmax": ops.softmax(a), "relu": ops.relu(a),
                "sum": ops.sum(a, axis=0), "add": ops.add(a, a[0])}
    wrong = []

    def worker():
        for _ in range(max(10, CALLS // 5)):
            got = {"matmul": ops.matmul(a, b), "softmax": ops.softmax(a), "relu": ops.relu(a),
                   "sum": ops.sum(a, axis=0), "add": ops.add(a, a[0])}
            wrong.extend(k for k in got if not np.array_equal(got[k], expected[k]))

    errors = run_threads([worker] * 4)
    assert not errors, errors
    assert not wrong, wrong
    np.testing.assert_allclose(expected["matmul"], a @ b, rtol=1e-4, atol=1e-4)


def test_a_workspace_refuses_a_second_thread():
    model = sequential()
    model.compile("sgd", "sparse_categorical_crossentropy")
    program = model._current_plan().program
    ws = program.workspace()
    x = np.zeros((100_000, 20), np.float32)
    out = [np.empty((100_000, 4), np.float32)]
    stop = threading.Event()
    refused = []

    def busy():
        while not stop.is_set():
            program.predict(ws, [x], out)

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(100_000):  # until a call lands while the other thread is inside one
            try:
                program.predict(ws, [x[:1]], [np.empty((1, 4), np.float32)])
            except RuntimeError as e:
                refused.append(str(e))
                break
    finally:
        stop.set()
        t.join()
    assert refused and "in use by another thread" in refused[0]


def test_predicting_while_another_model_trains_and_numpy_multiplies():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((600, 20)).astype(np.float32)
    y = rng.integers(0, 4, 600)
    model = sequential()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    expected = model.predict(x)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    wrong = []

    def predictor(seed):
        rows = np.random.default_rng(seed).permutation(600)[:200]
        for _ in range(30):
            if not np.array_equal(model.predict(x[rows]), expected[rows]):
                wrong.append(f"predict in thread {seed}")

    def numeric():
        for _ in range(30):
            # numpy's BLAS threads run meanwhile too
            if not np.allclose(ops.matmul(a, a.T), a @ a.T, rtol=1e-4, atol=1e-3):
                wrong.append("matmul")

    other = sequential()  # a second model trains meanwhile
    other.compile("adam", "sparse_categorical_crossentropy")
    errors = run_threads([lambda s=s: predictor(s) for s in range(4)] +
                         [numeric, lambda: other.fit(x, y, epochs=3, verbose=0)])
    assert not errors, errors
    assert not wrong, wrong
