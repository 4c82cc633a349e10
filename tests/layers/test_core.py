"""The core layers: Dense (its C++ forward/backward pair against numpy and finite differences,
Keras' arguments), Activation, Dropout (masks from the C++ kernel), Input."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import layers, ops, regularizers
from fastnn.testing import gradcheck
from fastnn.utils import set_random_seed


def numpy_activation(name, z):
    return {"linear": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
            "tanh": np.tanh(z),
            "softmax": np.exp(z - z.max(-1, keepdims=True)) /
            np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)}[name]


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear"])
def test_dense_forward_matches_numpy(activation):
    rng = np.random.default_rng(0)
    layer = layers.Dense(7, activation=activation, bias_initializer="random_normal")
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)  # any leading axes are batch axes
    out = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(out, numpy_activation(activation, x @ kernel + bias),
                               rtol=1e-5, atol=1e-6)
    assert out.shape == (5, 3, 7)
    for view in (x[::-1], x[:, :, ::2].repeat(2, axis=2), np.asfortranarray(x)):  # any layout
        np.testing.assert_allclose(np.asarray(layer(view)),
                                   numpy_activation(activation, view @ kernel + bias),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients_from_the_cpp_pair(activation, use_bias):
    rng = np.random.default_rng(2)
    layer = layers.Dense(5, activation=activation, use_bias=use_bias)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    layer(x)
    r = rng.standard_normal((3, 5)).astype(np.float32)
    kernel = rng.standard_normal((4, 5)).astype(np.float32)
    if activation == "relu":  # keep pre-activations off the kink
        x = np.abs(x) + 0.5
        kernel = np.where(kernel.sum(0) > 0, np.abs(kernel), -np.abs(kernel)).astype(np.float32)
    weights = [kernel] + ([rng.standard_normal(5).astype(np.float32)] if use_bias else [])

    def fn(x_in, *w):
        layer.set_weights(w)
        xv = fastnn.Variable(x_in)
        with fastnn.GradientTape() as tape:
            value = ops.sum(ops.multiply(layer(xv), r))
        return float(value), tape.gradient(value, [xv] + layer.trainable_weights)
    gradcheck(fn, [x] + weights)


def test_dense_arguments_as_keras():
    assert layers.Dense(3, input_dim=4)._input_shape_arg == (4,)
    config = layers.Dense(3, activation="tanh", use_bias=False, kernel_initializer="zeros",
                          kernel_regularizer=regularizers.l2(0.5), name="d").get_config()
    assert config == {"name": "d", "trainable": True, "units": 3, "activation": "tanh",
                      "use_bias": False, "kernel_initializer": "zeros",
                      "bias_initializer": "zeros", "kernel_regularizer": {"l1": 0.0, "l2": 0.5}}
    twin = layers.Dense.from_config(config)
    assert twin.get_config() == config
    with pytest.raises(ValueError, match="Valid activations"):
        layers.Dense(3, activation="swishy")
    with pytest.raises(ValueError, match="Received: units=-3"):
        layers.Dense(-3)
    with pytest.raises(ValueError, match="float32"):
        layers.Dense(3, dtype="float64")


def test_dense_penalty_is_a_loss_of_the_layer():
    layer = layers.Dense(2, kernel_regularizer=regularizers.l1(0.5), bias_regularizer="l2")
    layer(np.ones((1, 3)))
    layer.set_weights([np.full((3, 2), -2.0), np.full(2, 3.0)])
    assert [float(t) for t in layer.losses] == pytest.approx([0.5 * 12, 0.01 * 18])


def test_activation_layer():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    for name in ("relu", "sigmoid", "tanh", "softmax", "linear"):
        np.testing.assert_allclose(np.asarray(layers.Activation(name)(x)),
                                   numpy_activation(name, x), rtol=1e-5, atol=1e-7)
    assert layers.Activation("relu").get_config()["activation"] == "relu"


def test_dropout_is_inverted_and_off_at_inference():
    x = np.ones((200, 100), np.float32)
    layer = layers.Dropout(0.3)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    y = np.asarray(layer(x, training=True))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert np.any(np.asarray(layer(x, training=True)) != y)  # each call draws a new mask
    np.testing.assert_array_equal(np.asarray(layers.Dropout(0.0)(x, training=True)), x)


def test_dropout_masks_repeat_with_the_seed_and_go_through_the_gradient():
    x = np.random.default_rng(1).standard_normal((6, 9)).astype(np.float32)
    set_random_seed(4)
    a = np.asarray(layers.Dropout(0.5)(x, training=True))
    set_random_seed(4)
    layer = layers.Dropout(0.5)
    xv = fastnn.Variable(x)
    with fastnn.GradientTape() as tape:
        b = layer(xv, training=True)
    np.testing.assert_array_equal(a, np.asarray(b))
    g = tape.gradient(b, xv)
    np.testing.assert_array_equal(g, np.where(a != 0, 2.0, 0.0))
    seeded = layers.Dropout(0.5, seed=7)
    again = layers.Dropout(0.5, seed=7)
    np.testing.assert_array_equal(np.asarray(seeded(x, training=True)),
                                  np.asarray(again(x, training=True)))
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(1, 9))


def test_dropout_op_mask_depends_on_the_seed_counter_and_position_only(restore_threads):
    x = np.ones((300, 700), np.float32)
    masks = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        masks.append(ops.dropout(x, 0.25, seed=123, counter=5))
    for m in masks[1:]:
        np.testing.assert_array_equal(masks[0], m)
    np.testing.assert_array_equal(ops.dropout(x[:100], 0.25, 123, 5), masks[0][:100])
    assert np.any(ops.dropout(x, 0.25, 123, 6) != masks[0])
    with pytest.raises(ValueError, match="seed must be an integer"):
        ops.dropout(x, 0.5, seed=-1)


def test_input():
    t = layers.Input(shape=(28, 28), name="pixels")
    assert t.shape == (None, 28, 28) and t._node.layer.name == "pixels"
    assert layers.Input(batch_shape=(32, 5)).shape == (32, 5)
    assert layers.Input(shape=(3,), batch_size=8).shape == (8, 3)
    with pytest.raises(ValueError, match="needs a shape"):
        layers.Input()
    with pytest.raises(ValueError, match="positive integers"):
        layers.Input(shape=(0,))
    with pytest.raises(ValueError, match="float32"):
        layers.Input((3,), dtype="int32")
