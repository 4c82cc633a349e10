"""Optimizers: Keras' update rules against float64 numpy references, Keras' golden values, names
and defaults, the older ``lr=`` argument, and the Variable API of custom training loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn
from fastnn import optimizers


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


CLASSES = {"sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad,
           "adam": optimizers.Adam}


@pytest.mark.parametrize("name,hp", [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"learning_rate": 0.01}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("adagrad", {"learning_rate": 0.1}),
    ("adam", {"learning_rate": 0.01}),
])
def test_updates_match_a_numpy_reference(name, hp):
    rng = np.random.default_rng(3)
    opt = CLASSES[name](**hp)
    # two variables: their slots are two slices of one flat buffer
    a = fastnn.Variable(rng.standard_normal((7, 11)))
    b = fastnn.Variable(rng.standard_normal(24))
    refs = [a.numpy().astype(np.float64), b.numpy().astype(np.float64)]
    states = [{"v": np.zeros(r.shape), "m": np.zeros(r.shape), "a": np.full(r.shape, 0.1)}
              for r in refs]
    for t in range(1, 6):
        grads = [rng.standard_normal(v.shape).astype(np.float32) for v in (a, b)]
        opt.apply_gradients(zip(grads, [a, b]))
        refs = [reference_step(name, r, g, s, t, **hp) for r, g, s in zip(refs, grads, states)]
        for v, r in zip((a, b), refs):
            np.testing.assert_allclose(v.numpy(), r, rtol=2e-5, atol=2e-6)
    assert opt.iterations == 5


def test_rmsprop_keras_golden_values():
    w = fastnn.Variable([1.0, 2.0, 3.0, 4.0])
    optimizers.RMSprop(learning_rate=0.5).apply([np.array([1.0, 6.0, 7.0, 2.0], np.float32)], [w])
    np.testing.assert_allclose(w.numpy(), [-0.5811, 0.4189, 1.4189, 2.4189], atol=1e-4)


def test_defaults_and_names():
    assert optimizers.get("RMSprop").get_config() == {"learning_rate": 0.001, "rho": 0.9,
                                                      "momentum": 0.0, "epsilon": 1e-7}
    assert optimizers.get("adam").get_config() == {"learning_rate": 0.001, "beta_1": 0.9,
                                                   "beta_2": 0.999, "epsilon": 1e-7}
    assert optimizers.get("sgd").get_config() == {"learning_rate": 0.01, "momentum": 0.0,
                                                  "nesterov": False}
    assert optimizers.get("adagrad").initial_accumulator_value == 0.1
    adam = optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.5}})
    assert adam.learning_rate == 0.5
    assert optimizers.SGD.from_config({"learning_rate": 0.2}).learning_rate == 0.2
    with pytest.raises(ValueError, match="Valid optimizers: adagrad, adam, rmsprop, sgd"):
        optimizers.get("adamw")
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(TypeError, match=r"not recognized: \{'decay': 0.1\}"):
        optimizers.Adam(decay=0.1)


@pytest.mark.parametrize("cls", [optimizers.SGD, optimizers.RMSprop, optimizers.Adagrad,
                                 optimizers.Adam])
def test_older_listings_lr_argument_works_with_a_deprecation_warning(cls):
    with pytest.warns(DeprecationWarning, match="`lr` is deprecated; use `learning_rate`"):
        opt = cls(lr=0.123)
    assert opt.learning_rate == 0.123


def test_apply_needs_the_variables_it_was_built_for():
    a, b = fastnn.Variable(np.ones(3)), fastnn.Variable(np.ones(2))
    opt = optimizers.SGD(0.5)
    opt.build([a])
    opt.apply([np.ones(3)])  # the built variables by default
    np.testing.assert_allclose(a.numpy(), 0.5)
    with pytest.raises(ValueError, match="built for other variables"):
        opt.apply([np.ones(2)], [b])
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([np.ones(3)], [a, a])
    opt.apply([None], [a])  # a None gradient leaves its variable alone
    np.testing.assert_allclose(a.numpy(), 0.5)
    with pytest.raises(TypeError, match="fastnn Variables"):
        optimizers.SGD().build([np.ones(3)])


def test_a_custom_training_loop_with_a_tape():
    """Keras' custom loop: tape.gradient on model.trainable_weights, apply_gradients."""
    from fastnn import layers, losses, models, ops

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 1))).astype(np.float32)
    model = models.Sequential([layers.Input((5,)), layers.Dense(8, activation="tanh"),
                               layers.Dense(1)])
    opt = optimizers.Adam(0.05)
    first = None
    for _ in range(60):
        with fastnn.GradientTape() as tape:
            loss = ops.mean(losses.mean_squared_error(y, model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        first = float(loss) if first is None else first
    assert float(loss) < first / 10
