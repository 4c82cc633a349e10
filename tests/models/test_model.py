"""models.Model: the functional constructor, and subclassed models that train with fit op by
op (their call is Python code), with the trainer and weights API of every model."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import layers, models, ops, optimizers
from fastnn.utils import set_random_seed


class TwoLayers(models.Model):
    def __init__(self, units=16):
        super().__init__()
        self.hidden = layers.Dense(units, activation="relu")
        self.drop = layers.Dropout(0.1)
        self.out = layers.Dense(3, activation="softmax")

    def call(self, inputs, training=False):
        return self.out(self.drop(self.hidden(inputs), training=training))


def test_model_of_inputs_and_outputs_is_functional():
    i = layers.Input((3,))
    model = models.Model(inputs=i, outputs=layers.Dense(2)(i))
    assert type(model) is models.Functional and isinstance(model, models.Model)
    assert type(models.Model(i, layers.Dense(2)(i), name="m")).__name__ == "Functional"
    class Wrong(models.Model):
        def __init__(self, inputs):
            super().__init__(inputs, inputs)

    with pytest.raises(TypeError, match="is a subclassed model"):
        Wrong(i)


def test_a_subclassed_model_trains_with_fit(blobs):
    set_random_seed(0)
    x, y = blobs()
    model = TwoLayers()
    assert model.name.startswith("two_layers")  # the class' name in snake case
    assert model.layers == [model.hidden, model.drop, model.out]
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] / 2
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    assert model.execution_plan()["fit"] == (f"op by op: '{model.name}' is a subclassed model: "
                                             f"its call() is Python code, which runs op by op")
    assert len(model.trainable_weights) == 4 and model.count_params() == 8 * 16 + 16 + 16 * 3 + 3
    assert model.predict(x[:4]).shape == (4, 3)
    out = model(x[:4])
    assert isinstance(out, fastnn.Tensor)  # called on data: a Tensor, as Keras' backend tensor


def test_a_subclassed_model_in_a_custom_training_loop(blobs):
    x, y = blobs(n=64)
    model = TwoLayers(8)
    model.build((None, 8))
    assert model.built and len(model.weights) == 4
    from fastnn import losses
    opt = optimizers.SGD(0.1)
    with fastnn.GradientTape() as tape:
        loss = ops.mean(losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and g.shape == v.shape for g, v in zip(grads, model.trainable_weights))
    opt.apply_gradients(zip(grads, model.trainable_weights))


def test_a_model_without_call_says_so():
    class Empty(models.Model):
        pass

    with pytest.raises(NotImplementedError, match="must define call"):
        Empty()(np.ones((1, 2)))
