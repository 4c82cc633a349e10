"""The Layer base class: subclassing it as in Keras (build / add_weight / call), names, weights
and their trainable split, input checks, the training flag, symbolic calls."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import layers, models, ops, regularizers
from fastnn.layers.base import reset_names


class Scale(layers.Layer):
    """A user's layer: one trainable vector and one frozen scalar."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")
        self.c = self.add_weight((), "ones", trainable=False, name="c",
                                 regularizer=regularizers.l2(0.1))

    def call(self, inputs, training=None):
        out = ops.multiply(ops.multiply(inputs, self.w), self.c)
        return out if not training else ops.multiply(out, 2.0)


def test_a_user_layer_builds_on_its_first_call_and_computes_with_ops():
    layer = Scale()
    assert not layer.built and layer.weights == []
    out = layer(np.ones((2, 3)))
    assert layer.built and isinstance(out, fastnn.Tensor)
    np.testing.assert_array_equal(np.asarray(out), np.ones((2, 3)))
    np.testing.assert_array_equal(np.asarray(layer(np.ones((2, 3)), training=True)),
                                  2 * np.ones((2, 3)))
    assert [v.name for v in layer.weights] == ["w", "c"]
    assert [v.name for v in layer.trainable_weights] == ["w"]
    assert [v.name for v in layer.non_trainable_weights] == ["c"]
    assert layer.count_params() == 4
    assert layer.losses == []  # a frozen weight's penalty is not a loss (as in Keras)


def test_trainable_false_moves_every_weight_to_non_trainable():
    layer = layers.Dense(3)
    layer(np.ones((1, 2)))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    layer.trainable = True
    assert len(layer.trainable_weights) == 2


def test_get_and_set_weights():
    layer = layers.Dense(3)
    with pytest.raises(ValueError, match="not built yet"):
        layer.set_weights([np.ones((2, 3)), np.ones(3)])
    layer(np.ones((1, 2)))
    layer.set_weights([np.ones((2, 3)), np.arange(3)])
    np.testing.assert_array_equal(layer.get_weights()[1], [0, 1, 2])
    with pytest.raises(ValueError, match="has 2 weight arrays; received 1"):
        layer.set_weights([np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(2, 3\); received \(3, 2\)"):
        layer.set_weights([np.ones((3, 2)), np.ones(3)])
    np.testing.assert_array_equal(layer.get_weights()[1], [0, 1, 2])  # nothing half-written


def test_names_follow_keras():
    reset_names()
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.InputLayer(shape=(2,)).name == "input_layer"
    assert Scale().name == "scale"
    with pytest.raises(ValueError, match="name"):
        layers.Dense(1, name="")


def test_inputs_are_checked_against_the_built_shape():
    layer = layers.Dense(4)
    layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r'Input 0 of layer "dense.*" is incompatible with the '
                                         r"layer: expected axis -1 of input shape to have value "
                                         r"5, but received input with shape \(2, 6\)"):
        layer(np.ones((2, 6)))
    with pytest.raises(ValueError, match="expected min_ndim=2"):
        layers.Dense(2)(np.ones(3))
    with pytest.raises(TypeError, match="one positional argument"):
        layer(np.ones((2, 5)), np.ones((2, 5)))


def test_training_reaches_layers_called_without_it():
    class Outer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = layers.Dropout(0.5)

        def call(self, inputs):  # passes no training flag on
            return self.inner(inputs)

    outer = Outer()
    x = np.ones((50, 50), np.float32)
    np.testing.assert_array_equal(np.asarray(outer(x)), x)
    assert (np.asarray(outer(x, training=True)) == 0).mean() > 0.3
    assert outer.layers == [outer.inner]


def test_symbolic_calls_infer_shapes_by_a_dry_run():
    inputs = layers.Input((3, 4))
    out = Scale()(inputs)
    assert out.shape == (None, 3, 4)
    with pytest.raises(TypeError, match="mixed with data"):
        layers.Add()([inputs, np.ones((1, 3, 4))])
    with pytest.raises(TypeError, match="holds no data"):
        inputs + inputs
    model = models.Model(inputs, out)
    assert model.predict(np.ones((2, 3, 4))).shape == (2, 3, 4)
    assert model.execution_plan()["predict"].endswith("(Scale) has no C++ kernel")


def test_input_and_output_of_a_layer_in_a_graph():
    x = layers.Input((2,))
    dense = layers.Dense(3)
    y = dense(x)
    assert dense.input is x and dense.output is y
    with pytest.raises(AttributeError, match="has not been called on symbolic tensors"):
        layers.Dense(2).output
