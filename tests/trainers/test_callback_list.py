"""The callback list: every Keras hook in its place during fit, evaluate and predict, the
older batch names, and only overriding callbacks called."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import callbacks, layers, models
from fastnn.trainers.callback_list import CallbackList


class Spy(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None): self.events.append("train_begin")
    def on_train_end(self, logs=None): self.events.append(f"train_end {sorted(logs)}")
    def on_epoch_begin(self, epoch, logs=None): self.events.append(f"epoch_begin {epoch}")
    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch} {sorted(logs)}")
    def on_batch_begin(self, batch, logs=None): self.events.append(f"batch_begin {batch}")
    def on_batch_end(self, batch, logs=None): self.events.append(f"batch_end {batch}")
    def on_test_begin(self, logs=None): self.events.append("test_begin")
    def on_test_end(self, logs=None): self.events.append(f"test_end {sorted(logs)}")
    def on_test_batch_end(self, batch, logs=None): self.events.append(f"test_batch {batch}")
    def on_predict_begin(self, logs=None): self.events.append("predict_begin")
    def on_predict_end(self, logs=None): self.events.append("predict_end")
    def on_predict_batch_end(self, batch, logs=None): self.events.append(f"predict_batch {batch}")


@pytest.mark.parametrize("eager", [False, True])
def test_hooks_of_fit_evaluate_and_predict(eager):
    x = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    labels = np.arange(20) % 3
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=eager)
    spy = Spy()
    model.fit(x, labels, epochs=2, batch_size=10, verbose=0, callbacks=[spy], initial_epoch=1)
    assert spy.events == ["train_begin", "epoch_begin 1", "batch_begin 0", "batch_end 0",
                          "batch_begin 1", "batch_end 1", "epoch_end 1 ['accuracy', 'loss']",
                          "train_end ['accuracy', 'loss']"]
    assert spy.params == {"verbose": 0, "epochs": 2, "steps": 2} and spy.model is model
    spy.events.clear()
    model.fit(x, labels, epochs=1, batch_size=20, verbose=0, callbacks=[spy],
              validation_data=(x[:5], labels[:5]))
    assert spy.events[3:7] == ["batch_end 0", "test_begin", "test_batch 0",
                               "test_end ['accuracy', 'loss']"]
    assert spy.events[7] == "epoch_end 0 ['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    spy.events.clear()
    model.evaluate(x, labels, batch_size=15, verbose=0, callbacks=[spy])
    assert spy.events == ["test_begin", "test_batch 0", "test_batch 1",
                          "test_end ['accuracy', 'loss']"]
    spy.events.clear()
    model.predict(x, batch_size=8, callbacks=[spy])
    assert spy.events == ["predict_begin", "predict_batch 0", "predict_batch 1", "predict_batch 2",
                          "predict_end"]


def test_only_callbacks_that_override_a_hook_are_called_and_order_is_keras():
    plain = callbacks.Callback()
    spy = Spy()
    cbs = CallbackList([plain, spy], model=None, verbose=1, epochs=1, steps=1, add_history=True)
    assert type(cbs.callbacks[0]).__name__ == "ProgressBar" and cbs.callbacks[-1] is cbs.history
    assert cbs._by_hook["on_train_batch_end"] == [cbs.callbacks[0], spy]
    assert plain not in cbs._by_hook["on_epoch_end"]
    assert cbs.wants_batches("predict")
    assert not CallbackList([plain], None, 0, 1, 1).wants_batches("test")
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([object()], None, 0, 1, 1)
