"""The Keras-style API: optimizers, losses, metrics, layers, Sequential, callbacks, saving."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import callbacks, layers, losses, metrics, models, optimizers, regularizers
from fastnn.utils import set_random_seed, to_categorical


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1234)


def blobs(n=300, d=8, k=3, seed=0):
    """Linearly separable-ish clusters: a problem every optimizer should learn."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return x, y


# ---- utils ----------------------------------------------------------------------------------

def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3, dtype=np.float32)[[0, 2, 1]])
    assert to_categorical([1, 0], num_classes=4).shape == (2, 4)
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match="out of range"):
        to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])


# ---- optimizers against numpy reference steps ------------------------------------------------

def reference_step(name, w, g, state, t, **hp):
    w, g = w.astype(np.float64), g.astype(np.float64)
    lr = hp.get("learning_rate")
    if name == "sgd":
        mom, nest = hp.get("momentum", 0.0), hp.get("nesterov", False)
        if mom == 0:
            return w - lr * g
        state["v"] = mom * state["v"] - lr * g
        return w + (mom * state["v"] - lr * g if nest else state["v"])
    if name == "rmsprop":
        rho, mom, eps = hp.get("rho", 0.9), hp.get("momentum", 0.0), hp.get("epsilon", 1e-7)
        state["v"] = rho * state["v"] + (1 - rho) * g * g
        inc = lr * g / np.sqrt(state["v"] + eps)
        if mom:
            state["m"] = mom * state["m"] + inc
            return w - state["m"]
        return w - inc
    if name == "adagrad":
        state["a"] = state["a"] + g * g
        return w - lr * g / np.sqrt(state["a"] + hp.get("epsilon", 1e-7))
    if name == "adam":
        b1, b2, eps = hp.get("beta_1", 0.9), hp.get("beta_2", 0.999), hp.get("epsilon", 1e-7)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        state["m"] += (g - state["m"]) * (1 - b1)
        state["v"] += (g * g - state["v"]) * (1 - b2)
        return w - alpha * state["m"] / (np.sqrt(state["v"]) + eps)
    raise AssertionError(name)


@pytest.mark.parametrize("name,hp", [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"learning_rate": 0.01}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("adagrad", {"learning_rate": 0.1}),
    ("adam", {"learning_rate": 0.01}),
])
def test_optimizer_matches_numpy_reference(name, hp):
    rng = np.random.default_rng(3)
    cls = {"sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad,
           "adam": optimizers.Adam}[name]
    opt = cls(**hp)
    w = rng.standard_normal(1001).astype(np.float32)
    ref = w.astype(np.float64)
    state = {"v": np.zeros(1001), "m": np.zeros(1001), "a": np.full(1001, 0.1)}
    for t in range(1, 6):
        g = rng.standard_normal(1001).astype(np.float32)
        opt.apply(w, g)
        ref = reference_step(name, ref, g, state, t, **hp)
        np.testing.assert_allclose(w, ref, rtol=2e-5, atol=2e-6)
    assert opt.iterations == 5


def test_rmsprop_keras_golden_values():
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    optimizers.RMSprop(learning_rate=0.5).apply(w, np.array([1.0, 6.0, 7.0, 2.0], np.float32))
    np.testing.assert_allclose(w, [-0.5811, 0.4189, 1.4189, 2.4189], atol=1e-4)


def test_optimizer_defaults_and_names():
    assert optimizers.get("RMSprop").get_config() == {"learning_rate": 0.001, "rho": 0.9,
                                                      "momentum": 0.0, "epsilon": 1e-7}
    assert optimizers.get("adam").get_config() == {"learning_rate": 0.001, "beta_1": 0.9,
                                                   "beta_2": 0.999, "epsilon": 1e-7}
    assert optimizers.get("sgd").get_config() == {"learning_rate": 0.01, "momentum": 0.0,
                                                  "nesterov": False}
    assert optimizers.get("adagrad").initial_accumulator_value == 0.1
    with pytest.raises(ValueError, match="Valid optimizers: adagrad, adam, rmsprop, sgd"):
        optimizers.get("adamw")
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        optimizers.SGD(learning_rate=-1)


# ---- losses and metrics ---------------------------------------------------------------------

def test_losses_match_numpy_formulas():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    y = to_categorical(rng.integers(0, 4, 6), 4)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p),
                               -(y * np.log(p)).sum(-1), rtol=1e-5)
    labels = y.argmax(-1)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p),
                               -np.log(p[np.arange(6), labels]), rtol=1e-5)
    q = rng.uniform(0.05, 0.95, (6, 2)).astype(np.float32)
    t = rng.integers(0, 2, (6, 2)).astype(np.float32)
    np.testing.assert_allclose(losses.binary_crossentropy(t, q),
                               -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(-1), rtol=1e-5)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(losses.mse(a, b), ((a - b) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(losses.mae(a, b), np.abs(a - b).mean(-1), rtol=1e-5)
    with pytest.raises(ValueError, match="Valid losses"):
        losses.get("hinge_loss_of_doom")
    with pytest.raises(ValueError, match=r"label 7 at index 1 is out of range \[0, 4\)"):
        losses.sparse_categorical_crossentropy([0, 7, 1, 1, 1, 1], p)


def test_metrics():
    p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], np.float32)
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(2)[[1, 1, 1]], p), [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 0, 0], p), [1, 1, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy([[1], [0]], [[0.7], [0.6]]), [1, 0])
    assert metrics.get("accuracy", "binary_crossentropy")[1] is metrics.binary_accuracy
    assert metrics.get("accuracy", "sparse_categorical_crossentropy")[1] is metrics.sparse_categorical_accuracy
    with pytest.raises(ValueError, match="Valid metrics"):
        metrics.get("f1ish")


# ---- gradients: finite differences through Dense --------------------------------------------

def numeric_check(model, x, y, eps=1e-2):
    """Analytic gradients (from one step with a zero learning rate) against central differences."""
    model.optimizer = optimizers.SGD(learning_rate=0.0)
    model.optimizer.build(model._params.size)
    model.train_on_batch(x, y)
    analytic = model._grads.astype(np.float64).copy()
    fused = model._fused_loss()

    def loss_at():
        out = model._forward(x, training=True, logits=fused is not None)
        return model._loss_and_gradient(out, y, fused)[0] + model._penalty()

    numeric = np.empty_like(analytic)
    for i in range(model._params.size):
        keep = model._params[i]
        model._params[i] = keep + eps
        up = loss_at()
        model._params[i] = keep - eps
        down = loss_at()
        model._params[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=5e-2, atol=5e-4)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear"])
def test_gradient_through_dense_each_activation(activation):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal((5, 3)).astype(np.float32)
    model = models.Sequential([layers.Dense(6, activation=activation, input_shape=(4,)),
                               layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    numeric_check(model, x, y)


@pytest.mark.parametrize("loss,last", [
    ("categorical_crossentropy", "softmax"), ("sparse_categorical_crossentropy", "softmax"),
    ("binary_crossentropy", "sigmoid"), ("mean_squared_error", "linear"),
    ("mean_absolute_error", "linear"), ("mse", "tanh"), ("categorical_crossentropy", "sigmoid"),
])
def test_gradient_through_dense_each_loss(loss, last):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    k = 1 if loss == "binary_crossentropy" else 3
    labels = rng.integers(0, 3, 6)
    y = {"categorical_crossentropy": to_categorical(labels, 3),
         "sparse_categorical_crossentropy": labels,
         "binary_crossentropy": rng.integers(0, 2, (6, 1)).astype(np.float32)}.get(
        loss, rng.standard_normal((6, 3)).astype(np.float32))
    model = models.Sequential([layers.Dense(5, activation="tanh", input_shape=(4,),
                                            kernel_regularizer=regularizers.l2(0.01)),
                               layers.Dense(k, activation=last)])
    model.compile(optimizer="sgd", loss=loss)
    numeric_check(model, x, y)


# ---- Sequential: fit / evaluate / predict -----------------------------------------------------

def test_book_workflow_learns_and_shapes_are_right():
    x, labels = blobs()
    y = to_categorical(labels)
    model = models.Sequential()
    model.add(layers.Dense(32, activation="relu", input_shape=(8,)))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0, validation_split=0.2)
    assert history.epoch == list(range(8))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 8 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9 and loss < 0.5
    p = model.predict(x)
    assert p.shape == (300, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict(x[:1]).shape == (1, 3)
    assert model.count_params() == 8 * 32 + 32 + 32 * 3 + 3


def test_sparse_labels_dropout_and_every_optimizer():
    x, labels = blobs(seed=1)
    for opt in ["sgd", "rmsprop", "adagrad", "adam", optimizers.SGD(0.05, momentum=0.9, nesterov=True)]:
        model = models.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                                   layers.Dropout(0.2), layers.Dense(3), layers.Activation("softmax")])
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        if opt == "adagrad":
            model.optimizer.learning_rate = 0.1
        h = model.fit(x, labels, epochs=6, batch_size=16, verbose=0)
        assert h.history["loss"][-1] < h.history["loss"][0], opt
        assert model.evaluate(x, labels, verbose=0)[1] > 0.8, opt


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
    reg = models.Sequential([layers.Dense(16, activation="relu", input_shape=(5,)), layers.Dense(1)])
    reg.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    h = reg.fit(x, yr, epochs=30, batch_size=16, verbose=0, validation_data=(x[:50], yr[:50]))
    assert h.history["mae"][-1] < h.history["mae"][0] / 3
    assert "val_mae" in h.history
    assert reg.predict(x).shape == (400, 1)


def test_same_seed_same_training():
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


def test_verbose_modes_print_progress(capsys):
    x, labels = blobs(n=64)
    model = models.Sequential([layers.Dense(4, activation="softmax", input_shape=(8,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "loss:" in out and "accuracy:" in out
    model.fit(x, labels, epochs=2, batch_size=16, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]
    assert len(lines) == 2 and "loss:" in lines[0]
    model.fit(x, labels, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary(capsys):
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], name="mlp")
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 512)" in out and "401,920" in out and "5,130" in out
    assert "Total params: 407,050" in out


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


# ---- callbacks -------------------------------------------------------------------------------

def test_early_stopping_patience_and_restore_best_weights():
    x, labels = blobs()
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    # A zero learning rate: the loss changes only by rounding (batch order), never by min_delta.
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[stop])
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2

    # Maximising a falling loss makes epoch 0 the best: its weights must come back.
    snapshots = []

    class Snapshot(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", mode="max", patience=1, restore_best_weights=True)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[Snapshot(), stop])
    assert h.epoch == [0, 1] and h.history["loss"][1] < h.history["loss"][0]
    for got, want in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_and_terminate_on_nan(tmp_path):
    x, labels = blobs(n=60)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.fnn"), monitor="loss",
                                     save_best_only=True)
    model.fit(x, labels, epochs=3, batch_size=20, verbose=0, callbacks=[ckpt])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and saved[0] == "m-01.fnn"
    np.testing.assert_allclose(models.load_model(tmp_path / saved[-1]).predict(x),
                               model.predict(x), rtol=1e-6, atol=1e-7)
    bad = x.copy()
    bad[5, 0] = np.nan
    h = model.fit(bad, labels, epochs=5, batch_size=20, verbose=0, shuffle=False,
                  callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.epoch) == 1 and math.isnan(h.history["loss"][0])


def test_custom_callback_hooks():
    events = []

    class Spy(callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin {epoch}")
        def on_batch_end(self, batch, logs=None): events.append(f"batch {batch}")
        def on_epoch_end(self, epoch, logs=None): events.append(f"epoch_end {epoch} {sorted(logs)}")
        def on_train_end(self, logs=None): events.append("train_end")

    x, labels = blobs(n=20)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, batch_size=10, verbose=0, callbacks=[Spy()], initial_epoch=1)
    assert events == ["train_begin", "epoch_begin 1", "batch 0", "batch 1",
                      "epoch_end 1 ['accuracy', 'loss']", "train_end"]


# ---- saving ----------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    x, labels = blobs()
    model = models.Sequential([layers.Dense(16, activation="tanh", input_shape=(8,),
                                            kernel_regularizer=regularizers.l1_l2()),
                               layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.002), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, labels, epochs=2, verbose=0)
    path = tmp_path / "model.fnn"
    model.save(path)
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, labels, verbose=0) == pytest.approx(model.evaluate(x, labels, verbose=0))
    loaded.fit(x, labels, epochs=1, verbose=0)  # still trainable
    assert [p for p in tmp_path.iterdir() if p.name != "model.fnn"] == []  # no temp files left


def test_corrupt_truncated_foreign_and_newer_files(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    good = tmp_path / "good.fnn"
    model.save(good)
    raw = good.read_bytes()
    (tmp_path / "truncated.fnn").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "foreign.fnn").write_bytes(b"\x89HDF\r\n\x1a\n not ours")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    for name in ("truncated.fnn", "foreign.fnn", "other.npz"):
        with pytest.raises(ValueError, match="not a .*fastnn model file"):
            models.load_model(tmp_path / name)
    config = json.loads(bytes(np.load(good)["__fastnn_config__"]).decode())
    config["version"] = 99
    with open(tmp_path / "newer.fnn", "wb") as f:
        np.savez(f, __fastnn_config__=np.frombuffer(json.dumps(config).encode(), np.uint8),
                 weight_0=np.ones((3, 2), np.float32), weight_1=np.ones(2, np.float32))
    with pytest.raises(ValueError, match="version 99, which is newer"):
        models.load_model(tmp_path / "newer.fnn")
    with pytest.raises(FileNotFoundError):
        models.load_model(tmp_path / "missing.fnn")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = tmp_path / "m.fnn"
    model.save(path)
    before = path.read_bytes()
    model.set_weights([np.full((3, 2), 7.0), np.zeros(2)])

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.fnn"]


# ---- bad input -------------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    x, labels = blobs(n=40)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit"):
        model.fit(x, labels)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="different numbers of samples: 40 and 39"):
        model.fit(x, labels[:-1], verbose=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 8\); received \(40, 7\)"):
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
    with pytest.raises(ValueError, match="Valid activations"):
        layers.Dense(3, activation="swishy")
    with pytest.raises(ValueError, match="Received: units=-3"):
        layers.Dense(-3)
    with pytest.raises(ValueError, match="Valid losses"):
        model.compile(optimizer="sgd", loss="crossentropyish")
    with pytest.raises(ValueError, match="one-hot targets"):
        m2 = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
        m2.compile(optimizer="sgd", loss="categorical_crossentropy")
        m2.fit(x, labels, verbose=0)


def test_nan_inputs_propagate_like_numpy():
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    out = model.predict(np.array([[np.nan, 1, 2], [1, 2, 3]], np.float32))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


# ---- the command line ------------------------------------------------------------------------

def test_train_command_on_the_shipped_sample(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "fastnn", "train", "--epochs", "1", "--hidden", "64",
                        "--verbose", "0", "--save", str(tmp_path / "m.fnn")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "MNIST sample" in r.stdout and "test accuracy" in r.stdout
    acc = float(r.stdout.split("test accuracy")[1].split()[0])
    assert acc > 0.8
    assert models.load_model(tmp_path / "m.fnn").predict(np.zeros((1, 784))).shape == (1, 10)
    version = subprocess.run([sys.executable, "-m", "fastnn", "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"fastnn {fastnn.__version__}"
