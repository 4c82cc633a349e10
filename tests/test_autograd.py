"""Variable, Tensor and GradientTape: every differentiable op against float64 finite differences
(fastnn.testing.gradcheck), broadcast-reduced gradients, and the tape's semantics."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fastnn
from fastnn import GradientTape, Tensor, Variable, losses, ops
from fastnn.testing import gradcheck

F32 = np.float32


def normal(rng, shape, margin=0.0):
    """Standard normal float32 values; with a margin, none closer than it to 0 (kinks)."""
    v = rng.standard_normal(shape).astype(F32)
    return np.where(np.abs(v) < margin, np.copysign(F32(margin), v), v).astype(F32)


def positive(rng, shape):
    return (np.abs(rng.standard_normal(shape)) + 0.5).astype(F32)


def check(op, *arrays, seed=0, **tol):
    """gradcheck of sum(op(*Variables) * r), the gradients taken by a GradientTape."""
    shape = np.shape(op(*map(Variable, arrays)))
    r = np.random.default_rng(seed).standard_normal(shape).astype(F32)

    def fn(*xs):
        vs = [Variable(x) for x in xs]
        with GradientTape() as tape:
            y = op(*vs)
            target = ops.sum(ops.multiply(y, r))
        grads = tape.gradient(target, vs)
        for g, x in zip(grads, xs):
            assert g.dtype == F32 and g.shape == x.shape
        return float(target), grads

    assert gradcheck(fn, [np.array(a, F32) for a in arrays], **tol)


# ---- every differentiable op ----------------------------------------------------------------

@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_every_flag(rng, trans_a, trans_b):
    m, k, n = 3, 5, 4
    a = normal(rng, (k, m) if trans_a else (m, k))
    b = normal(rng, (n, k) if trans_b else (k, n))
    check(lambda a, b: ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b, alpha=0.5), a, b)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 2)),
                                    ((1, 1), (1, 1)), ((6, 7), (7, 1))])
def test_matmul_nd_and_vectors(rng, shapes):
    check(lambda a, b: ops.matmul(a, b), normal(rng, shapes[0]), normal(rng, shapes[1]))


BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                   ((), (3,)), ((4,), ()), ((1, 5), (2, 3, 1)), ((2, 1, 3), (1,))]


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
def test_binary_ops_with_broadcast_reduced_gradients(rng, name, shapes):
    a = normal(rng, shapes[0])
    if name == "divide":
        b = positive(rng, shapes[1]) * np.sign(normal(rng, shapes[1]))
    elif name in ("maximum", "minimum"):
        # Keep every pair at least 0.1 apart so no finite difference crosses the switch.
        a = (rng.integers(-5, 5, shapes[0]) * 0.5).astype(F32)
        b = (rng.integers(-5, 5, shapes[1]) * 0.5 + 0.25).astype(F32)
    else:
        b = normal(rng, shapes[1])
    check(getattr(ops, name), a, b)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "exp", "log"])
def test_unary_ops(rng, name):
    x = positive(rng, (3, 5)) if name == "log" else normal(rng, (3, 5), margin=0.1)
    check(getattr(ops, name), x)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax(rng, axis):
    check(lambda x: ops.softmax(x, axis=axis), normal(rng, (3, 4, 5)))


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(rng, name, axis, keepdims):
    check(lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims), normal(rng, (2, 3, 4)))


def test_reshape_and_transpose(rng):
    x = normal(rng, (2, 3, 4))
    check(lambda x: ops.reshape(x, (4, -1)), x)
    check(lambda x: ops.transpose(x), x)
    check(lambda x: ops.transpose(x, (1, 2, 0)), x)
    check(lambda x: x.T @ np.ones((2, 3), F32), normal(rng, (2, 5)))


def test_operators_and_powers(rng):
    a, b = normal(rng, (3, 4), margin=0.2), positive(rng, (3, 4))
    w = normal(rng, (4, 2))
    check(lambda a, b: (a + b) * (a - b) / b, a, b)
    check(lambda a, w: a @ w, a, w)
    check(lambda a: 1.0 - a, a)
    check(lambda b: 2.0 / b, b)
    check(lambda a: -a * 3.0 + 1.0, a)
    check(lambda w: normal(np.random.default_rng(5), (5, 4)) @ w, w)  # numpy array on the left
    for p in (2, 3, -1, -2, 0.5, 1.5):
        check(lambda b, p=p: b ** p, b)
    check(lambda a: a ** 2 + a ** 1, a)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error",
                                  "mean_absolute_error"])
def test_losses(rng, name):
    n, k = 6, 4
    labels = rng.integers(0, k, n)
    if name == "categorical_crossentropy":
        y_true = np.eye(k, dtype=F32)[labels]
    elif name == "sparse_categorical_crossentropy":
        y_true = labels
    elif name == "binary_crossentropy":
        y_true = rng.integers(0, 2, (n, k)).astype(F32)
    else:
        y_true = normal(rng, (n, k))
    fn = getattr(losses, name)
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        # From logits through softmax, as the book does; and from probabilities directly.
        check(lambda z: ops.mean(fn(y_true, ops.softmax(z))), normal(rng, (n, k)))
        check(lambda p: ops.mean(fn(y_true, p)), rng.uniform(0.1, 1.0, (n, k)).astype(F32))
    elif name == "binary_crossentropy":
        check(lambda z: ops.mean(fn(y_true, ops.sigmoid(z))), normal(rng, (n, k)))
    else:
        y_pred = y_true + normal(rng, (n, k), margin=0.1)  # |y_pred - y_true| >= 0.1 for mae
        check(lambda p: ops.mean(fn(y_true, p)), y_pred)
    # The per-sample values are the loss' values on plain arrays.
    p = ops.softmax(normal(rng, (n, k)))
    with GradientTape():
        on_tensor = fn(y_true, Variable(p))
    assert isinstance(on_tensor, Tensor) and on_tensor.shape == (n,)
    np.testing.assert_array_equal(on_tensor.numpy(), fn(y_true, p))


@pytest.mark.parametrize("sparse", [True, False])
def test_cross_entropy_of_a_softmax_uses_its_logits(rng, sparse):
    # Saturated rows: softmax gives the label a probability below the 1e-7 clip. From the
    # probabilities the gradient would be 0 there; from the logits it is softmax - onehot.
    z = normal(rng, (6, 4)) * 60
    labels = np.argmin(z, axis=1)
    y_true = labels if sparse else np.eye(4, dtype=F32)[labels]
    fn = losses.sparse_categorical_crossentropy if sparse else losses.categorical_crossentropy
    w = Variable(z)
    with GradientTape() as tape:
        per_sample = fn(y_true, ops.softmax(w))
        loss = ops.mean(per_sample)
    rows, _ = ops.softmax_cross_entropy(z, labels, reduction="none")
    np.testing.assert_allclose(per_sample.numpy(), rows, rtol=1e-6)
    assert np.all(rows > 30)  # far beyond -log(1e-7) = 16.1, where clipping would stop
    _, want = ops.softmax_cross_entropy(z, labels)
    np.testing.assert_allclose(tape.gradient(loss, w), want, rtol=1e-5, atol=1e-7)
    check(lambda z: fn(y_true, ops.softmax(z)), normal(rng, (6, 4)))
    check(lambda z: ops.softmax_cross_entropy(z, labels, reduction="none")[0], normal(rng, (6, 4)))


def test_fused_softmax_cross_entropy_on_a_tape(rng):
    z, labels = normal(rng, (5, 3)), rng.integers(0, 3, 5)
    check(lambda z: ops.softmax_cross_entropy(z, labels)[0], z)
    loss, grad = ops.softmax_cross_entropy(Variable(z), labels)
    want_loss, want_grad = ops.softmax_cross_entropy(z, labels)
    assert float(loss) == pytest.approx(want_loss) and np.array_equal(grad, want_grad)


# ---- recording --------------------------------------------------------------------------------

def test_ops_outside_a_tape_record_nothing(rng):
    x, w = normal(rng, (4, 3)), Variable(normal(rng, (3, 2)))
    # Plain arrays stay plain arrays, with or without a tape.
    assert type(ops.relu(x)) is np.ndarray and type(ops.matmul(x, w.numpy())) is np.ndarray
    with GradientTape():
        assert type(ops.add(x, x)) is np.ndarray
    # Variables outside a tape: a Tensor with the same value, and no node.
    y = ops.relu(ops.matmul(x, w))
    assert isinstance(y, Tensor) and y._node is None
    np.testing.assert_array_equal(y.numpy(), ops.relu(ops.matmul(x, w.numpy())))
    # After the tape closes, nothing more is recorded.
    with GradientTape() as tape:
        inside = ops.matmul(x, w)
    after = ops.relu(inside)
    assert inside._node is not None and after._node is None
    # A tape records nothing it does not watch: constants, and arrays.
    with GradientTape() as tape:
        c = ops.exp(Tensor(x))
    assert c._node is None and tape.gradient(c, Tensor(x)) is None


def test_gradients_accumulate_where_a_value_is_used_twice(rng):
    x = Variable(normal(rng, (3,)))
    with GradientTape() as tape:
        y = ops.sum(x * x + x)
    np.testing.assert_allclose(tape.gradient(y, x), 2 * x.numpy() + 1, rtol=1e-6)


def test_sources_structure_unconnected_and_non_trainable(rng):
    a, b = Variable(normal(rng, (2,))), Variable(normal(rng, (2,)))
    frozen = Variable(normal(rng, (2,)), trainable=False)
    with GradientTape(persistent=True) as tape:
        y = ops.sum(a * frozen)
    ga, gb, gf = tape.gradient(y, [a, b, frozen])
    np.testing.assert_allclose(ga, frozen.numpy())
    assert gb is None and gf is None
    assert isinstance(tape.gradient(y, (a, b)), tuple)
    assert isinstance(tape.gradient(y, a), np.ndarray)
    with GradientTape() as tape:
        tape.watch(frozen)
        y = ops.sum(a * frozen)
    np.testing.assert_allclose(tape.gradient(y, frozen), a.numpy())


def test_watch_constants_and_only_watched(rng):
    x = Tensor(normal(rng, (3,)))
    w = Variable(normal(rng, (3,)))
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = ops.sum(ops.exp(x) * w)
    gx, gw = tape.gradient(y, [x, w])
    np.testing.assert_allclose(gx, np.exp(x.numpy()) * w.numpy(), rtol=1e-6)
    assert gw is None
    with pytest.raises(TypeError, match="watch"):
        GradientTape().watch(np.ones(3))


def test_persistent_and_non_persistent_tapes(rng):
    x = Variable(normal(rng, (3,)))
    with GradientTape() as tape:
        y = ops.sum(x * x)
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)
    with GradientTape(persistent=True) as tape:
        y = ops.sum(x * x)
        z = ops.sum(x)
    np.testing.assert_allclose(tape.gradient(y, x), 2 * x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(z, x), np.ones(3))
    np.testing.assert_allclose(tape.gradient([y, z], x), 2 * x.numpy() + 1, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=np.float32(3)),
                               6 * x.numpy(), rtol=1e-6)


def test_nested_tapes_record_independently(rng):
    x = Variable(normal(rng, (3,)))
    with GradientTape() as outer:
        u = x * 2.0
        with GradientTape() as inner:
            v = ops.sum(u * x)
        w = ops.sum(u)
    # u was computed before the inner tape opened: a constant to it, as in TensorFlow.
    np.testing.assert_allclose(inner.gradient(v, x), 2 * x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(outer.gradient(w, x), np.full(3, 2.0))


def test_a_non_scalar_target_is_summed(rng):
    x = Variable(normal(rng, (2, 3)))
    with GradientTape() as tape:
        y = x * 3.0
    np.testing.assert_array_equal(tape.gradient(y, x), np.full((2, 3), 3.0, F32))


def test_gradients_are_distinct_writable_arrays(rng):
    a, b = Variable(normal(rng, (3,))), Variable(normal(rng, (3,)))
    with GradientTape() as tape:
        y = ops.sum(a + b)  # add hands one array to both inputs
    ga, gb = tape.gradient(y, [a, b])
    ga *= 5
    np.testing.assert_array_equal(gb, np.ones(3, F32))


def test_tapes_are_per_thread(rng):
    x = Variable(normal(rng, (3,)))
    seen = []
    with GradientTape():
        t = threading.Thread(target=lambda: seen.append(ops.exp(x)._node))
        t.start()
        t.join()
        assert ops.exp(x)._node is not None
    assert seen == [None]


# ---- Variable and Tensor ----------------------------------------------------------------------

def test_variable_assign_in_place(rng):
    v = Variable([[1, 2], [3, 4]])
    assert v.dtype == F32 and v.shape == (2, 2) and v.ndim == 2 and len(v) == 2
    buffer = v._value
    v.assign_sub(np.ones((2, 2)))
    v.assign_add(Tensor([10, 20]))  # broadcast, like numpy's +=
    assert v._value is buffer
    np.testing.assert_array_equal(v.numpy(), [[10, 21], [12, 23]])
    v.assign(np.zeros((2, 2)))
    np.testing.assert_array_equal(v.numpy(), np.zeros((2, 2)))
    copy = v.numpy()
    copy[0, 0] = 7
    assert v.numpy()[0, 0] == 0  # numpy() is a copy
    with pytest.raises(ValueError, match=r"shape \(3,\) does not fit a variable of shape \(2, 2\)"):
        v.assign_add(np.ones(3))
    with pytest.raises(TypeError, match="real numbers"):
        Variable(["a", "b"])


def test_assigning_before_asking_keeps_the_recorded_values(rng):
    w = Variable([1.0, 2.0])
    with GradientTape() as tape:
        y = ops.sum(w * w)
    w.assign_sub([10.0, 10.0])  # the tape still needs w = [1, 2]
    np.testing.assert_array_equal(tape.gradient(y, w), [2.0, 4.0])
    np.testing.assert_array_equal(w.numpy(), [-9.0, -8.0])
    buffer = w._value
    w.assign_sub([1.0, 1.0])  # the tape is released: in place again
    assert w._value is buffer


def test_tensor_reads_like_an_array():
    t = Tensor([[1.5, 2.0]])
    assert np.asarray(t).dtype == F32 and np.asarray(t, np.float64).dtype == np.float64
    assert f"{ops.mean(t):.2f}" == "1.75" and float(ops.sum(t)) == 3.5
    assert not t.numpy().flags.writeable  # a tape may still need it
    assert "shape=(1, 2)" in repr(t) and "Variable 'w'" in repr(Variable([1.0], name="w"))
    np.testing.assert_array_equal(ops.argmax(t, axis=1), [1])


def test_errors_name_the_problem(rng):
    x = Variable(normal(rng, (2, 3)))
    with pytest.raises(ValueError, match="out= takes numpy arrays only"):
        ops.add(x, x, out=np.empty((2, 3), F32))
    with pytest.raises(ValueError, match="could not be broadcast together with shapes"):
        ops.add(x, np.ones(4))
    with pytest.raises(ValueError, match="not aligned"):
        ops.matmul(x, x)
    with pytest.raises(TypeError, match="constant exponent"):
        x ** x
    with GradientTape() as tape:
        assert type(ops.relu_grad(x, x)) is np.ndarray  # a backward helper: arrays, no record
        with pytest.raises(TypeError, match="each target must be a Tensor"):
            tape.gradient(1.0, x)
    with pytest.raises(TypeError, match="does not support ufuncs"):  # fastnn.ops, not np.exp
        np.exp(x)


def test_matches_fastnn_dense_layer_gradients(rng):
    """A Dense + softmax model from ops gets the gradients fastnn.layers.Dense computes."""
    from fastnn import layers, models
    x, labels = normal(rng, (8, 5)), rng.integers(0, 3, 8)
    model = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(5,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    kernel, bias = model.get_weights()
    w, b = Variable(kernel), Variable(bias)
    with GradientTape() as tape:
        loss = ops.mean(losses.sparse_categorical_crossentropy(labels, ops.softmax(x @ w + b)))
    gw, gb = tape.gradient(loss, [w, b])
    model.fit(x, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)  # lr 0.01, one step
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - 0.01 * gw, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - 0.01 * gb, atol=1e-6)
    assert fastnn.GradientTape is GradientTape
