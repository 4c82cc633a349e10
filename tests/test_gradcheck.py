"""fastnn.testing.gradcheck, and every activation, layer, loss, regularizer and the fused training
step checked with it: analytic gradients against float64 central differences."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import activations, layers, losses, models, ops, optimizers, regularizers
from fastnn.testing import gradcheck
from fastnn.utils import set_random_seed, to_categorical


def away_from_zero(rng, shape, margin=0.1):
    """Values with |v| >= margin: relu and |.| have kinks at 0 that a finite difference straddles."""
    v = rng.standard_normal(shape).astype(np.float32)
    return np.where(np.abs(v) < margin, np.sign(v + 1e-12) * margin, v).astype(np.float32)


# ---- the checker itself ----------------------------------------------------------------------

def test_gradcheck_accepts_right_and_rejects_wrong_gradients():
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    assert gradcheck(lambda v: (float(np.sum(v.astype(np.float64) ** 2)), [2 * v]), [x])
    with pytest.raises(AssertionError, match=r"input 0 \(shape \(1, 3\)\) at index \(0, 1\): analytic -3.9"):
        gradcheck(lambda v: (float(np.sum(v.astype(np.float64) ** 2)), [2 * v + [[0, 0.1, 0]]]), [x])
    np.testing.assert_array_equal(x, [[1.0, -2.0, 0.5]])  # inputs restored
    with pytest.raises(ValueError, match="has shape"):
        gradcheck(lambda v: (0.0, [np.zeros(2)]), [x])
    with pytest.raises(ValueError, match="scalar"):
        gradcheck(lambda v: (np.zeros(2), [v]), [x])
    with pytest.raises(AssertionError):  # a NaN gradient never passes
        gradcheck(lambda v: (float(v.sum()), [np.full_like(v, np.nan)]), [x])


# ---- activations -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "linear"])
def test_every_activation(name):
    rng = np.random.default_rng(1)
    z = away_from_zero(rng, (4, 6))
    r = rng.standard_normal((4, 6)).astype(np.float32)

    def fn(z):
        y = activations.forward(name, z.copy())
        return float(np.sum(y.astype(np.float64) * r)), [activations.backward(name, r, y)]

    gradcheck(fn, [z])


# ---- layers ----------------------------------------------------------------------------------

def layer_fn(layer, r):
    """value = sum(layer(x) * r); gradients of x and of each weight from layer.backward(r)."""
    def fn(x, *weights):
        for w, v in zip(layer.weights, weights):
            w[...] = v
        out = layer.forward(x.copy(), training=True)
        gx = layer.backward(r.astype(np.float32).copy())
        grads = [gx] + ([layer.d_kernel.copy(), layer.d_bias.copy()] if layer.weights else [])
        return float(np.sum(out.astype(np.float64) * r)), grads
    return fn


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear"])
def test_dense_with_each_activation(activation):
    rng = np.random.default_rng(2)
    layer = layers.Dense(5, activation=activation)
    model = models.Sequential([layers.Input((4,)), layer])  # gives the layer its buffers
    x = rng.standard_normal((3, 4)).astype(np.float32)
    kernel = rng.standard_normal((4, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    if activation == "relu":  # keep pre-activations off the kink
        x = np.abs(x) + 0.5
        kernel = np.where(kernel.sum(0) > 0, np.abs(kernel), -np.abs(kernel)).astype(np.float32)
    r = rng.standard_normal((3, 5)).astype(np.float32)
    assert model.built
    gradcheck(layer_fn(layer, r), [x, kernel, bias])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax"])
def test_activation_layer(name):
    rng = np.random.default_rng(3)
    layer = layers.Activation(name)
    layer.build((6,))
    gradcheck(layer_fn(layer, rng.standard_normal((2, 6)).astype(np.float32)),
              [away_from_zero(rng, (2, 6))])


def test_dropout_layer_with_its_mask_fixed():
    rng = np.random.default_rng(4)
    layer = layers.Dropout(0.4)
    layer.build((8,))
    r = rng.standard_normal((5, 8)).astype(np.float32)
    plain = layer_fn(layer, r)

    def fn(x):
        set_random_seed(9)  # the same mask on every evaluation
        return plain(x)

    gradcheck(fn, [rng.standard_normal((5, 8)).astype(np.float32)])


# ---- losses ----------------------------------------------------------------------------------

def probabilities(rng, n, k):
    e = np.exp(rng.standard_normal((n, k)))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error", "mean_absolute_error"])
def test_every_loss(name):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 6)
    if name == "categorical_crossentropy":
        y_true, y_pred = to_categorical(labels, 4), probabilities(rng, 6, 4)
    elif name == "sparse_categorical_crossentropy":
        y_true, y_pred = labels, probabilities(rng, 6, 4)
    elif name == "binary_crossentropy":
        y_true = rng.integers(0, 2, (6, 3)).astype(np.float32)
        y_pred = rng.uniform(0.2, 0.8, (6, 3)).astype(np.float32)
    else:
        y_true = rng.standard_normal((6, 3)).astype(np.float32)
        y_pred = y_true + away_from_zero(rng, (6, 3), margin=0.2)

    def fn(p):
        return losses.mean_and_gradient(name, y_true, p)

    gradcheck(fn, [y_pred], eps=1e-3)


def test_fused_softmax_cross_entropy():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 7)
    gradcheck(lambda v: ops.softmax_cross_entropy(v, labels), [z])
    targets = probabilities(rng, 7, 5)
    gradcheck(lambda v: ops.softmax_cross_entropy(v, targets), [z])


@pytest.mark.parametrize("reg", [regularizers.l1(0.03), regularizers.l2(0.05), regularizers.l1_l2(0.02, 0.04)])
def test_every_regularizer(reg):
    w = away_from_zero(np.random.default_rng(7), (3, 4), margin=0.2)

    def fn(v):
        g = np.zeros_like(v)
        reg.add_gradient(v, g)
        return reg.penalty(v), [g]

    gradcheck(fn, [w], eps=1e-3)


# ---- the fused training step (fastnn._C.Mlp) ---------------------------------------------------

@pytest.mark.parametrize("hidden,out_act,loss", [
    ("relu", "softmax", "sparse_categorical_crossentropy"),
    ("tanh", "softmax", "categorical_crossentropy"),
    ("sigmoid", "sigmoid", "binary_crossentropy"),
    ("linear", "linear", "mse"),
])
def test_fused_step_gradients(hidden, out_act, loss):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 9)
    y = {"sparse_categorical_crossentropy": labels,
         "categorical_crossentropy": to_categorical(labels, 3),
         "binary_crossentropy": rng.integers(0, 2, (9, 3)).astype(np.float32),
         "mse": rng.standard_normal((9, 3)).astype(np.float32)}[loss]
    set_random_seed(1)
    model = models.Sequential([layers.Input((4,)), layers.Dense(6, activation=hidden),
                               layers.Dense(3, activation=out_act)])
    model.compile(optimizers.SGD(learning_rate=0.0), loss)
    mlp = model._fused_mlp(training=True)
    assert mlp is not None
    labels64, targets = model._fused_targets(np.asarray(y))
    fused_name = model._fused_loss()

    def fn(params):
        model._params[...] = params
        out = model._forward(x, training=True, logits=fused_name is not None)
        value = model._loss_and_gradient(out, y, fused_name)[0]
        # the gradient from one fused step (SGD with rate 0 leaves the parameters alone)
        mlp.train_step(x, np.arange(9), labels64, targets, *model.optimizer._begin_fused_step(params.size))
        return value, [model._grads.copy()]

    params = model._params.copy()
    if hidden == "relu":
        # keep every hidden pre-activation away from relu's kink
        pre = x @ model.layers[1].kernel + model.layers[1].bias
        params[:24].reshape(4, 6)[:, np.abs(pre).min(0) < 0.05] *= 1.5
    gradcheck(fn, [params], eps=1e-3, rtol=2e-2, atol=2e-4)


def test_a_layer_called_on_its_own_and_then_added_to_a_model():
    x = np.random.default_rng(9).standard_normal((2, 3)).astype(np.float32)
    layer = layers.Dense(4, activation="tanh")
    out = layer(x)  # Keras allows this: the layer builds and initialises itself
    assert out.shape == (2, 4) and np.all(np.abs(out) < 1)
    model = models.Sequential([layers.Input((3,)), layer])
    np.testing.assert_allclose(model.predict(x), out, rtol=1e-6)  # its weights move into the model
