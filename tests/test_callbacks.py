"""Callbacks: EarlyStopping, ModelCheckpoint, TerminateOnNaN and the History on real training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastnn import callbacks, layers, models, optimizers
from fastnn.utils import set_random_seed


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1234)


def softmax_model():
    return models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])


def test_early_stopping_patience_and_restore_best_weights(blobs):
    x, labels = blobs()
    model = softmax_model()
    # A zero learning rate: the loss changes only by rounding (batch order), never by min_delta.
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[stop])
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2

    # Maximising a falling loss makes epoch 0 the best: its weights must come back.
    snapshots = []

    class Snapshot(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", mode="max", patience=1,
                                   restore_best_weights=True)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[Snapshot(), stop])
    assert h.epoch == [0, 1] and h.history["loss"][1] < h.history["loss"][0]
    for got, want in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_and_terminate_on_nan(tmp_path, blobs):
    x, labels = blobs(n=60)
    model = softmax_model()
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


def test_history_keeps_floats_per_epoch_and_fit_returns_it(blobs):
    x, labels = blobs(n=60)
    model = softmax_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, labels, epochs=3, verbose=0, validation_split=0.25)
    assert h is model.history and h.epoch == [0, 1, 2]
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(type(v) is float for values in h.history.values() for v in values)
