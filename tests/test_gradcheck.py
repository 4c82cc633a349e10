"""fastnn.testing.gradcheck itself, and the compiled training step checked with it: the gradients
the C++ program computes for each fused loss, against float64 central differences. (Each layer,
activation, loss and regularizer is checked with it in its own test file.)"""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import layers, models, optimizers
from fastnn.testing import gradcheck
from fastnn.utils import set_random_seed, to_categorical


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


# ---- the compiled training step (fastnn._C.Program) -----------------------------------------

@pytest.mark.parametrize("hidden,out_act,loss", [
    ("relu", "softmax", "sparse_categorical_crossentropy"),
    ("tanh", "softmax", "categorical_crossentropy"),
    ("sigmoid", "sigmoid", "binary_crossentropy"),
    ("linear", "linear", "mse"),
    ("tanh", "softmax", "mse"),
    ("relu", "linear", "mae"),
])
def test_compiled_step_gradients(hidden, out_act, loss):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 9)
    y = {"sparse_categorical_crossentropy": labels,
         "categorical_crossentropy": to_categorical(labels, 3),
         "binary_crossentropy": rng.integers(0, 2, (9, 3)).astype(np.float32)}.get(
        loss, rng.standard_normal((9, 3)).astype(np.float32))
    set_random_seed(1)
    model = models.Sequential([layers.Input((4,)), layers.Dense(6, activation=hidden),
                               layers.Dense(3, activation=out_act)])
    model.compile(optimizers.SGD(learning_rate=0.0), loss)
    assert model.execution_plan()["fit"].startswith("compiled")
    model.test_on_batch(x, y)
    flat = model._current_plan().weights

    def fn(params):
        flat.params[...] = params
        value = model.train_on_batch(x, y)  # the loss; SGD at rate 0 changes nothing
        return value, [flat.grads.copy()]

    params = flat.params.copy()
    if hidden == "relu":
        # keep every hidden pre-activation away from relu's kink
        kernel, bias = model.layers[0].get_weights()
        pre = x @ kernel + bias
        params[:24].reshape(4, 6)[:, np.abs(pre).min(0) < 0.05] *= 1.5
    gradcheck(fn, [params], eps=1e-3, rtol=2e-2, atol=2e-4)


def test_a_layer_called_on_its_own_and_then_added_to_a_model():
    x = np.random.default_rng(9).standard_normal((2, 3)).astype(np.float32)
    layer = layers.Dense(4, activation="tanh")
    out = np.asarray(layer(x))  # Keras allows this: the layer builds and initialises itself
    assert out.shape == (2, 4) and np.all(np.abs(out) < 1)
    model = models.Sequential([layers.Input((3,)), layer])
    np.testing.assert_allclose(model.predict(x), out, rtol=1e-6)  # the same weights, now the model's
