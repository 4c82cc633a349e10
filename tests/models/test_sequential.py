"""Sequential: the book's first listing, add / pop, a deferred build, the Keras workflow on the
book's kinds of problems, weights, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import layers, models, optimizers
from fastnn.utils import set_random_seed, to_categorical


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1234)


def test_the_books_sequential_listing_runs_as_printed(blobs):
    """Chapter 2's listing, with only the import line changed (RMSprop(lr=...), mse on a
    softmax output, accuracy)."""
    x, labels = blobs(n=512, d=784)
    input_tensor, target_tensor = x, to_categorical(labels, 10)

    model = models.Sequential()
    model.add(layers.Dense(32, activation='relu', input_shape=(784,)))
    model.add(layers.Dense(10, activation='softmax'))
    with pytest.warns(DeprecationWarning):
        model.compile(optimizer=optimizers.RMSprop(lr=0.001), loss='mse', metrics=['accuracy'])
    history = model.fit(input_tensor, target_tensor, batch_size=128, epochs=10, verbose=0)
    assert model.execution_plan()["fit"].startswith("compiled")
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def test_layers_add_pop_and_the_implicit_input():
    model = models.Sequential([layers.Input((5,)), layers.Dense(3), layers.Dense(2)])
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]  # no InputLayer
    assert model.layers[0].kernel.shape == (5, 3)
    assert model.input_shape == (None, 5) and model.output_shape == (None, 2)
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 3)
    model.add(layers.Dense(4, activation="softmax"))
    assert model.output_shape == (None, 4)
    assert model.predict(np.ones((2, 5))).shape == (2, 4)
    with pytest.raises(TypeError, match="no layers"):
        models.Sequential().pop()
    with pytest.raises(TypeError, match="expects a fastnn layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="only be the first layer"):
        model.add(layers.Input((3,)))


def test_a_model_without_an_input_shape_builds_from_its_data():
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)])
    assert not model.built and model.weights == [] and model.input_shape is None
    lines = []
    model.summary(print_fn=lines.append)
    assert any("not built yet" in line for line in lines)
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 6)), np.ones(8), verbose=0)
    assert model.built and model.input_shape == (None, 6) and model.count_params() == 6 * 4 + 4 + 5
    called = models.Sequential([layers.Dense(2)])
    assert called(np.ones((1, 3))).shape == (1, 2) and called.input_shape == (None, 3)
    other = models.Sequential([layers.Dense(2)])
    other.build((None, 3))
    assert other.layers[0].kernel.shape == (3, 2)
    with pytest.raises(ValueError, match="needs a size"):
        models.Sequential([layers.Dense(2)]).build((None, None))


def test_the_book_workflow_learns_and_shapes_are_right(blobs):
    x, labels = blobs()
    y = to_categorical(labels)
    model = models.Sequential()
    model.add(layers.Dense(32, activation="relu", input_shape=(8,)))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0, validation_split=0.2)
    assert history.epoch == list(range(8))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9 and loss < 0.5
    p = model.predict(x)
    assert p.shape == (300, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict(x[:1]).shape == (1, 3)
    assert model.count_params() == 8 * 32 + 32 + 32 * 3 + 3


@pytest.mark.parametrize("opt", ["sgd", "rmsprop", "adagrad", "adam",
                                 optimizers.SGD(0.05, momentum=0.9, nesterov=True)])
def test_sparse_labels_dropout_and_every_optimizer(opt, blobs):
    x, labels = blobs(seed=1)
    model = models.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                               layers.Dropout(0.2), layers.Dense(3), layers.Activation("softmax")])
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if opt == "adagrad":
        model.optimizer.learning_rate = 0.1
    h = model.fit(x, labels, epochs=6, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert model.evaluate(x, labels, verbose=0)[1] > 0.8


def test_binary_and_regression_models():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 5)).astype(np.float32)
    yb = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    clf = models.Sequential([layers.Dense(8, activation="relu", input_shape=(5,)),
                             layers.Dense(1, activation="sigmoid")])
    clf.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                metrics=["accuracy"])
    clf.fit(x, yb, epochs=15, batch_size=32, verbose=0)
    assert clf.evaluate(x, yb, verbose=0)[1] > 0.9
    yr = (x @ np.arange(1, 6, dtype=np.float32) + 0.5).astype(np.float32)
    reg = models.Sequential([layers.Dense(16, activation="relu", input_shape=(5,)),
                             layers.Dense(1)])
    reg.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    h = reg.fit(x, yr, epochs=30, batch_size=16, verbose=0, validation_data=(x[:50], yr[:50]))
    assert h.history["mae"][-1] < h.history["mae"][0] / 3
    assert "val_mae" in h.history
    assert reg.predict(x).shape == (400, 1)


def test_same_seed_same_training(blobs):
    x, labels = blobs()
    runs = []
    for _ in range(2):
        set_random_seed(42)
        model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(8,)),
                                   layers.Dropout(0.3), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=2, batch_size=10, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_verbose_modes_print_progress(capsys, blobs):
    x, labels = blobs(n=64)
    model = models.Sequential([layers.Dense(4, activation="softmax", input_shape=(8,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "loss:" in out and "accuracy:" in out
    model.fit(x, labels, epochs=2, batch_size=16, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 2 and "loss:" in lines[0]
    model.fit(x, labels, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_get_set_weights():
    model = models.Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(1)])
    w = model.get_weights()
    assert [a.shape for a in w] == [(2, 3), (3,), (3, 1), (1,)]
    model.set_weights([np.ones_like(a) for a in w])
    np.testing.assert_array_equal(model.predict(np.ones((1, 2))), [[10.0]])  # 3 * (2 + 1) + 1
    with pytest.raises(ValueError, match="has 4 weight arrays; received 1"):
        model.set_weights(w[:1])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(2, 3\); received \(3, 2\)"):
        model.set_weights([np.ones((3, 2))] + w[1:])


def test_bad_input_raises_clear_errors(blobs):
    x, labels = blobs(n=40)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit"):
        model.fit(x, labels)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="different numbers of samples: 40 and 39"):
        model.fit(x, labels[:-1], verbose=0)
    with pytest.raises(ValueError,
                       match=r"expects inputs of shape \(None, 8\); received \(40, 7\)"):
        model.fit(x[:, :7], labels, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.fit(x, labels, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], labels[:0], verbose=0)
    bad = labels.copy()
    bad[3] = 3
    with pytest.raises(ValueError, match=r"label 3 at index 3 is out of range \[0, 3\)"):
        model.fit(x, bad, verbose=0)
    bad[3] = -1
    with pytest.raises(ValueError, match="label -1 at index 3"):
        model.fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="Valid losses"):
        model.compile(optimizer="sgd", loss="crossentropyish")
    with pytest.raises(ValueError, match="one-hot targets"):
        m2 = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
        m2.compile(optimizer="sgd", loss="categorical_crossentropy")
        m2.fit(x, labels, verbose=0)
    with pytest.raises(TypeError, match="must be numeric"):
        model.predict(np.array([["a"] * 8]))


def test_nan_inputs_propagate_like_numpy():
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    out = model.predict(np.array([[np.nan, 1, 2], [1, 2, 3]], np.float32))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
