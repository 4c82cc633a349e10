"""Tests of the fused optimizer updates (fastnn.ops.*_update) against numpy and Keras' goldens."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import ops

f32 = np.float32


# ---- numpy references: Keras 3's update_step, one float32 operation at a time ---------------

def ref_sgd(w, g, s, t, learning_rate=0.01, momentum=0.0, nesterov=False):
    lr = f32(learning_rate)
    if momentum == 0:
        w -= g * lr
        return
    v = s["velocity"]
    v[...] = v * f32(momentum) - g * lr
    if nesterov:
        w += v * f32(momentum) - g * lr
    else:
        w += v


def ref_rmsprop(w, g, s, t, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
    v = s["velocity"]
    v[...] = f32(rho) * v + f32(1 - rho) * np.square(g)
    increment = (f32(learning_rate) * g) / np.sqrt(v + f32(epsilon))
    if momentum > 0:
        m = s["momentum_buffer"]
        m[...] = f32(momentum) * m + increment
        w -= m
    else:
        w -= increment


def ref_adagrad(w, g, s, t, learning_rate=0.001, epsilon=1e-7):
    acc = s["accumulator"]
    acc += np.square(g)
    w -= (f32(learning_rate) * g) / np.sqrt(acc + f32(epsilon))


def ref_adam(w, g, s, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v = s["m"], s["v"]
    alpha = f32(learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t))
    m += (g - m) * f32(1 - beta_1)
    v += (np.square(g) - v) * f32(1 - beta_2)
    w -= (m * alpha) / (np.sqrt(v) + f32(epsilon))


@dataclass
class Case:
    """One optimizer variant: its state slots, how to call fastnn, the reference, hyper-params."""

    slots: tuple[str, ...]
    fast: Callable[..., None]
    ref: Callable[..., None]
    hyper: dict[str, Any] = field(default_factory=dict)


def _fast_sgd(w, g, s, t, **h):
    ops.sgd_update(w, g, s.get("velocity"), **h)


def _fast_rmsprop(w, g, s, t, **h):
    ops.rmsprop_update(w, g, s["velocity"], s.get("momentum_buffer"), **h)


def _fast_adagrad(w, g, s, t, **h):
    ops.adagrad_update(w, g, s["accumulator"], **h)


def _fast_adam(w, g, s, t, **h):
    ops.adam_update(w, g, s["m"], s["v"], step=t, **h)


CASES = {
    "sgd": Case((), _fast_sgd, ref_sgd, {"learning_rate": 0.05}),
    "sgd_momentum": Case(("velocity",), _fast_sgd, ref_sgd,
                         {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": Case(("velocity",), _fast_sgd, ref_sgd,
                         {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "rmsprop": Case(("velocity",), _fast_rmsprop, ref_rmsprop, {"learning_rate": 0.01}),
    "rmsprop_momentum": Case(("velocity", "momentum_buffer"), _fast_rmsprop, ref_rmsprop,
                             {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5}),
    "adagrad": Case(("accumulator",), _fast_adagrad, ref_adagrad, {"learning_rate": 0.1}),
    "adam": Case(("m", "v"), _fast_adam, ref_adam, {"learning_rate": 0.01}),
}

# Slots that hold squares (or sums of them) must start non-negative.
_NON_NEGATIVE = {"velocity_rmsprop", "accumulator", "v"}


def _initial_state(name: str, case: Case, shape, rng) -> dict[str, np.ndarray]:
    state = {}
    for slot in case.slots:
        key = slot + "_rmsprop" if (slot == "velocity" and "rmsprop" in name) else slot
        if key in _NON_NEGATIVE:
            state[slot] = (rng.random(shape) * 0.1).astype(f32)
        else:
            state[slot] = (rng.standard_normal(shape) * 0.1).astype(f32)
    return state


def _run(name: str, shape, seed: int, steps: int, hyper=None):
    """Run `steps` updates with fastnn and with the reference; return both (param, state)."""
    case = CASES[name]
    hyper = case.hyper if hyper is None else hyper
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(f32)
    state = _initial_state(name, case, shape, rng)
    grads = [rng.standard_normal(shape).astype(f32) for _ in range(steps)]
    w_ref, state_ref = w.copy(), {k: a.copy() for k, a in state.items()}
    for t, g in enumerate(grads, start=1):
        assert case.fast(w, g, state, t, **hyper) is None
        case.ref(w_ref, g, state_ref, t, **hyper)
    return (w, state), (w_ref, state_ref)


def _assert_close(got, want, rtol=1e-6):
    (w, state), (w_ref, state_ref) = got, want
    np.testing.assert_allclose(w, w_ref, rtol=rtol, atol=1e-7)
    assert state.keys() == state_ref.keys()
    for k in state:
        np.testing.assert_allclose(state[k], state_ref[k], rtol=rtol, atol=1e-7, err_msg=k)


@pytest.fixture
def restore_threads():
    n = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(n)


# ---- golden values ----------------------------------------------------------------------------

def test_rmsprop_keras_golden():
    # keras/src/optimizers/rmsprop_test.py, test_single_step.
    w = np.array([1.0, 2.0, 3.0, 4.0], f32)
    velocity = np.zeros(4, f32)
    ops.rmsprop_update(w, np.array([1.0, 6.0, 7.0, 2.0], f32), velocity, learning_rate=0.5)
    np.testing.assert_allclose(w, [-0.5811, 0.4189, 1.4189, 2.4189], atol=1e-4)
    np.testing.assert_allclose(velocity, [0.1, 3.6, 4.9, 0.4], rtol=1e-6)


def test_adam_first_step_moves_each_weight_by_lr():
    # At t = 1 the bias correction makes m_hat / sqrt(v_hat) = sign(g): each weight moves by lr.
    w = np.array([1.0, 2.0, 3.0, 4.0], f32)
    m, v = np.zeros(4, f32), np.zeros(4, f32)
    ops.adam_update(w, [1.0, 6.0, 7.0, 2.0], m, v, step=1, learning_rate=0.5)
    np.testing.assert_allclose(w, [0.5, 1.5, 2.5, 3.5], atol=1e-4)


def test_adagrad_golden():
    # acc = 0.1 + g^2 (Keras' initial_accumulator_value); w -= 0.5 * g / sqrt(acc).
    w = np.array([1.0, 2.0, 3.0, 4.0], f32)
    acc = np.full(4, 0.1, f32)
    ops.adagrad_update(w, [1.0, 6.0, 7.0, 2.0], acc, learning_rate=0.5)
    np.testing.assert_allclose(w, [0.5233, 1.5007, 2.5005, 3.5061], atol=1e-4)
    np.testing.assert_allclose(acc, [1.1, 36.1, 49.1, 4.1], rtol=1e-6)


@pytest.mark.parametrize("nesterov, total", [(False, 2.9), (True, 4.61)])
def test_sgd_momentum_two_steps_closed_form(nesterov, total):
    # Constant g, momentum 0.9: plain momentum moves w by (1 + 1.9) lr g over two steps,
    # Nesterov by (1.9 + 2.71) lr g.
    g = np.array([1.0, 6.0, 7.0, 2.0], f32)
    w = np.array([1.0, 2.0, 3.0, 4.0], f32)
    velocity = np.zeros(4, f32)
    for _ in range(2):
        ops.sgd_update(w, g, velocity, learning_rate=0.1, momentum=0.9, nesterov=nesterov)
    np.testing.assert_allclose(w, [1, 2, 3, 4] - total * 0.1 * g, rtol=1e-5)
    np.testing.assert_allclose(velocity, -1.9 * 0.1 * g, rtol=1e-5)


def test_sgd_plain_and_defaults():
    w = np.array([1.0, 2.0, 3.0, 4.0], f32)
    ops.sgd_update(w, [1.0, 6.0, 7.0, 2.0], learning_rate=0.5)
    np.testing.assert_array_equal(w, [0.5, -1.0, -0.5, 3.0])
    ops.sgd_update(w, [100.0, 0.0, 0.0, 0.0])  # default learning_rate 0.01
    np.testing.assert_allclose(w, [-0.5, -1.0, -0.5, 3.0], rtol=1e-6)


# ---- against the numpy reference --------------------------------------------------------------

SHAPES = [(0,), (1,), (7,), (1000,), (100003,), (784, 512)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference(name, shape):
    # Five steps (Adam at t = 1..5) so the state carried between steps is checked too.
    got, want = _run(name, shape, seed=1, steps=5)
    _assert_close(got, want)
    assert got[0].shape == shape


@pytest.mark.parametrize("name", list(CASES))
def test_same_float32_operations_as_reference(name):
    # The kernels round after every operation, in Keras' order, without FMA contraction: they
    # reproduce a numpy implementation of the same formulas bit for bit, on either kernel path.
    (w, state), (w_ref, state_ref) = _run(name, (1000,), seed=2, steps=3)
    np.testing.assert_array_equal(w, w_ref)
    for k in state:
        np.testing.assert_array_equal(state[k], state_ref[k], err_msg=k)


def test_default_hyper_parameters_are_keras():
    for name, hyper in [("sgd", {}), ("rmsprop", {}), ("adagrad", {}), ("adam", {})]:
        got, want = _run(name, (257,), seed=3, steps=3, hyper=hyper)
        _assert_close(got, want)


def _hyper_strategy(name: str):
    lr = st.floats(0.0, 1.0)
    eps = st.floats(1e-8, 1e-3)
    if name.startswith("sgd"):
        momentum = st.just(0.0) if name == "sgd" else st.floats(1e-3, 1.0)
        return st.fixed_dictionaries({"learning_rate": lr, "momentum": momentum,
                                      "nesterov": st.just(name == "sgd_nesterov")})
    if name.startswith("rmsprop"):
        momentum = st.just(0.0) if name == "rmsprop" else st.floats(1e-3, 1.0)
        return st.fixed_dictionaries({"learning_rate": lr, "rho": st.floats(0.0, 0.999),
                                      "momentum": momentum, "epsilon": eps})
    if name == "adagrad":
        return st.fixed_dictionaries({"learning_rate": lr, "epsilon": eps})
    return st.fixed_dictionaries({"learning_rate": lr, "beta_1": st.floats(0.0, 0.999),
                                  "beta_2": st.floats(0.0, 0.9999), "epsilon": eps})


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(list(CASES)), n=st.integers(0, 3000),
       seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
def test_random_sizes_and_hyper_parameters(data, name, n, seed, steps):
    hyper = data.draw(_hyper_strategy(name), label="hyper")
    got, want = _run(name, (n,), seed=seed, steps=steps, hyper=hyper)
    _assert_close(got, want)


@settings(max_examples=25, deadline=None)
@given(step=st.integers(1, 10**6), beta_1=st.floats(0.0, 0.999), beta_2=st.floats(0.0, 0.9999))
def test_adam_bias_correction_at_any_step(step, beta_1, beta_2):
    rng = np.random.default_rng(step)
    w = rng.standard_normal(64).astype(f32)
    g = rng.standard_normal(64).astype(f32)
    s = {"m": (rng.standard_normal(64) * 0.1).astype(f32),
         "v": (rng.random(64) * 0.1).astype(f32)}
    w_ref, s_ref = w.copy(), {k: a.copy() for k, a in s.items()}
    hyper = {"beta_1": beta_1, "beta_2": beta_2}
    ops.adam_update(w, g, s["m"], s["v"], step=step, **hyper)
    ref_adam(w_ref, g, s_ref, step, **hyper)
    np.testing.assert_allclose(w, w_ref, rtol=1e-6, atol=1e-7)


# ---- inputs: grad conversion, aliasing, views, empty arrays -----------------------------------

@pytest.mark.parametrize("make_grad", [
    lambda g: g.astype(np.float64),
    lambda g: np.round(g).astype(np.int64),
    lambda g: np.asfortranarray(g),
    lambda g: np.repeat(g, 2, axis=1)[:, ::2],
    lambda g: g.tolist(),
], ids=["float64", "int64", "fortran", "strided", "list"])
def test_grad_any_real_dtype_and_layout(make_grad):
    rng = np.random.default_rng(4)
    g = (rng.standard_normal((30, 20)) * 3).astype(f32)
    g_conv = np.ascontiguousarray(np.asarray(make_grad(g)), dtype=f32)
    w0 = rng.standard_normal((30, 20)).astype(f32)
    m, v = np.zeros_like(w0), np.zeros_like(w0)
    w = w0.copy()
    ops.adam_update(w, make_grad(g), m, v, step=1, learning_rate=0.1)
    s_ref = {"m": np.zeros_like(w0), "v": np.zeros_like(w0)}
    w_ref = w0.copy()
    ref_adam(w_ref, g_conv, s_ref, 1, learning_rate=0.1)
    np.testing.assert_array_equal(w, w_ref)


def test_grad_bool_is_real():
    w = np.ones(3, f32)
    ops.sgd_update(w, np.array([True, False, True]), learning_rate=0.5)
    np.testing.assert_array_equal(w, [0.5, 1.0, 0.5])


def test_grad_aliasing_param_is_copied_first():
    w = np.array([1.0, -2.0, 3.0], f32)
    acc = np.full(3, 0.1, f32)
    ops.adagrad_update(w, w, acc, learning_rate=0.5)  # grad is the old w
    g = np.array([1.0, -2.0, 3.0], f32)
    acc_ref = np.full(3, 0.1, f32) + g * g
    np.testing.assert_array_equal(acc, acc_ref)
    np.testing.assert_array_equal(w, g - (f32(0.5) * g) / np.sqrt(acc_ref + f32(1e-7)))


def test_grad_aliasing_state_is_copied_first():
    # grad is a view of m: the update must read the gradient as it was before m changes.
    rng = np.random.default_rng(5)
    w = rng.standard_normal(10).astype(f32)
    m = rng.standard_normal(10).astype(f32)
    v = rng.random(10).astype(f32)
    g = m.copy()
    w_ref, s_ref = w.copy(), {"m": m.copy(), "v": v.copy()}
    ops.adam_update(w, m[:], m, v, step=3)
    ref_adam(w_ref, g, s_ref, 3)
    np.testing.assert_array_equal(w, w_ref)
    np.testing.assert_array_equal(m, s_ref["m"])


def test_grad_partly_overlapping_param_is_copied_first():
    # param = buf[3:] and grad = buf[:-3] overlap: a loop reading grad while writing param would
    # read values it has already updated (3 elements back, across vector blocks); the update must
    # use the gradient as passed.
    buf = np.arange(103, dtype=f32)
    param, grad = buf[3:], buf[:-3]
    g, p0 = grad.copy(), param.copy()
    ops.sgd_update(param, grad, learning_rate=0.5)
    np.testing.assert_array_equal(buf[3:], p0 - g * f32(0.5))
    np.testing.assert_array_equal(buf[:3], [0, 1, 2])


def test_views_into_flat_buffers_are_updated_in_place():
    # A layer's kernel and bias are views of one flat parameter buffer (STYLE point 5).
    flat = np.zeros(6 * 4 + 4, f32)
    kernel, bias = flat[:24].reshape(6, 4), flat[24:]
    grads = np.arange(28, dtype=f32)
    vel = np.zeros(28, f32)
    ops.sgd_update(kernel, grads[:24].reshape(6, 4), vel[:24].reshape(6, 4),
                   learning_rate=1.0, momentum=0.5)
    ops.sgd_update(bias, grads[24:], vel[24:], learning_rate=1.0, momentum=0.5)
    np.testing.assert_array_equal(flat, -grads)
    np.testing.assert_array_equal(vel, -grads)


def test_empty_arrays_are_a_no_op():
    w = np.zeros((0, 5), f32)
    m, v = np.zeros((0, 5), f32), np.zeros((0, 5), f32)
    assert ops.adam_update(w, np.zeros((0, 5)), m, v, step=1) is None
    assert ops.sgd_update(np.zeros(0, f32), [], learning_rate=0.1) is None
    with pytest.raises(ValueError, match=r"m has shape \(0, 4\) but param has shape \(0, 5\)"):
        ops.adam_update(w, np.zeros((0, 5)), np.zeros((0, 4), f32), v, step=1)


def test_unused_slots_are_left_untouched():
    w = np.ones(4, f32)
    velocity = np.full(4, 7.0, f32)
    ops.sgd_update(w, np.ones(4), velocity, learning_rate=0.5, momentum=0.0)
    np.testing.assert_array_equal(velocity, 7.0)
    np.testing.assert_array_equal(w, 0.5)
    buf = np.full(4, 7.0, f32)
    ops.rmsprop_update(w, np.ones(4), np.zeros(4, f32), buf, momentum=0.0)
    np.testing.assert_array_equal(buf, 7.0)


def test_tiny_momentum_still_uses_the_momentum_rule():
    # Keras picks the rule from its Python float: 1e-300 != 0 even though it rounds to 0.0f,
    # so the velocity slot is written (v = 0 * v - lr * g).
    w = np.ones(3, f32)
    velocity = np.full(3, 5.0, f32)
    ops.sgd_update(w, np.ones(3), velocity, learning_rate=0.5, momentum=1e-300)
    np.testing.assert_array_equal(velocity, -0.5)
    np.testing.assert_array_equal(w, 0.5)


# ---- threads and kernel paths -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_bit_identical_for_any_thread_count(name, restore_threads):
    # 400,003 elements: above ELEMENTWISE_PARALLEL_MIN (131,072), a partial last chunk.
    results = []
    for threads in (1, 2):
        fastnn.set_num_threads(threads)
        (w, state), _ = _run(name, (400_003,), seed=6, steps=2)
        results.append((w, state))
    (w1, s1), (w2, s2) = results
    assert w1.tobytes() == w2.tobytes()
    for k in s1:
        assert s1[k].tobytes() == s2[k].tobytes(), k


_OTHER_PATH_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests_dir!r})
import test_optim as t
out = {{}}
for name in t.CASES:
    (w, state), _ = t._run(name, (300_001,), seed=7, steps=3)
    out[name + "/param"] = w
    for k, a in state.items():
        out[name + "/" + k] = a
np.savez({path!r}, **out)
"""


def test_generic_and_avx2_paths_agree(tmp_path):
    # The path is chosen once per process, so the other one runs in a child process.
    this_arch = os.environ.get("FASTNN_ARCH", "auto") or "auto"
    other_arch = "auto" if this_arch == "generic" else "generic"
    path = str(tmp_path / "other.npz")
    script = _OTHER_PATH_SCRIPT.format(tests_dir=os.path.dirname(__file__), path=path)
    env = dict(os.environ, FASTNN_ARCH=other_arch)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    other = np.load(path)
    for name in CASES:
        (w, state), _ = _run(name, (300_001,), seed=7, steps=3)
        np.testing.assert_allclose(w, other[name + "/param"], rtol=1e-6, atol=1e-7)
        for k, a in state.items():
            np.testing.assert_allclose(a, other[name + "/" + k], rtol=1e-6, atol=1e-7)


# ---- errors -----------------------------------------------------------------------------------

def _adam_args(n=4):
    return np.zeros(n, f32), np.ones(n, f32), np.zeros(n, f32), np.zeros(n, f32)


def test_state_wrong_dtype_is_type_error():
    w, g, m, v = _adam_args()
    with pytest.raises(TypeError, match="v must have dtype float32.*float64"):
        ops.adam_update(w, g, m, v.astype(np.float64), step=1)
    with pytest.raises(TypeError, match="velocity must have dtype float32"):
        ops.sgd_update(w, g, np.zeros(4), momentum=0.9)
    with pytest.raises(TypeError, match="param must have dtype float32"):
        ops.adagrad_update(w.astype(np.float64), g, np.zeros(4, f32))


def test_non_array_buffers_are_type_error():
    with pytest.raises(TypeError, match="param must be a numpy float32 array.*list"):
        ops.sgd_update([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(TypeError, match="accumulator must be a numpy float32 array"):
        ops.adagrad_update(np.zeros(2, f32), np.ones(2), [0.1, 0.1])


def test_shape_mismatch_names_the_shapes():
    w, g, m, v = _adam_args()
    with pytest.raises(ValueError, match=r"m has shape \(5,\) but param has shape \(4,\)"):
        ops.adam_update(w, g, np.zeros(5, f32), v, step=1)
    with pytest.raises(ValueError, match=r"grad has shape \(2, 2\) but param has shape \(4,\)"):
        ops.adam_update(w, g.reshape(2, 2), m, v, step=1)
    with pytest.raises(ValueError, match=r"momentum_buffer has shape \(4, 1\)"):
        ops.rmsprop_update(w, g, v, np.zeros((4, 1), f32), momentum=0.9)


def test_non_contiguous_buffers_are_value_error():
    w, g, m, _ = _adam_args()
    strided = np.zeros(8, f32)[::2]
    with pytest.raises(ValueError, match="v must be C-contiguous"):
        ops.adam_update(w, g, m, strided, step=1)
    with pytest.raises(ValueError, match="param must be C-contiguous"):
        ops.sgd_update(np.zeros((3, 4), f32).T, np.ones((4, 3)))


def test_read_only_buffers_are_value_error():
    w, g, m, v = _adam_args()
    m.flags.writeable = False
    with pytest.raises(ValueError, match="m is read-only"):
        ops.adam_update(w, g, m, v, step=1)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="param is read-only"):
        ops.sgd_update(w, g)


def test_buffers_sharing_memory_are_value_error():
    w, g, m, _ = _adam_args()
    with pytest.raises(ValueError, match="m and v share memory"):
        ops.adam_update(w, g, m, m, step=1)
    with pytest.raises(ValueError, match="param and velocity share memory"):
        ops.rmsprop_update(w, g, w[:])
    buf = np.zeros(6, f32)
    with pytest.raises(ValueError, match="m and v share memory"):
        ops.adam_update(w, g, buf[:4], buf[2:], step=1)  # partial overlap
    np.testing.assert_array_equal(w, 0.0)  # nothing was updated


def test_missing_state_for_momentum_is_value_error():
    w, g, _, _ = _adam_args()
    with pytest.raises(ValueError, match="needs a velocity array.*Received: momentum=0.9"):
        ops.sgd_update(w, g, learning_rate=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="needs a momentum_buffer.*Received: momentum=0.5"):
        ops.rmsprop_update(w, g, np.zeros(4, f32), momentum=0.5)
    with pytest.raises(ValueError, match="needs a velocity array"):
        ops.rmsprop_update(w, g, None)
    with pytest.raises(ValueError, match="needs both moment arrays"):
        ops.adam_update(w, g, None, np.zeros(4, f32), step=1)


@pytest.mark.parametrize("step", [0, -3, 1.5, 2.0, True, "1"])
def test_bad_step_is_value_error(step):
    w, g, m, v = _adam_args()
    with pytest.raises(ValueError, match=r"`step` must be an integer >= 1.*Received: step="):
        ops.adam_update(w, g, m, v, step=step)
    np.testing.assert_array_equal(m, 0.0)  # nothing was updated


def test_numpy_integer_step_is_accepted():
    w, g, m, v = _adam_args()
    ops.adam_update(w, g, m, v, step=np.int64(1), learning_rate=0.5)
    # One lr-sized step, less the share of epsilon (1e-7 next to sqrt(v) = 0.0316).
    np.testing.assert_allclose(w, -0.5, rtol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda w, g, s: ops.sgd_update(w, g, learning_rate=-0.1),
     r"`learning_rate` must be a finite float >= 0. Received: learning_rate=-0.1"),
    (lambda w, g, s: ops.adam_update(w, g, s, s.copy(), step=1, learning_rate=float("nan")),
     r"Received: learning_rate=nan"),
    (lambda w, g, s: ops.sgd_update(w, g, s, momentum=-1),
     r"`momentum` must be a float in \[0, 1\]. Received: momentum=-1"),
    (lambda w, g, s: ops.sgd_update(w, g, s, momentum=1.5), r"Received: momentum=1.5"),
    (lambda w, g, s: ops.rmsprop_update(w, g, s, rho=1.0),
     r"`rho` must be a float in \[0, 1\). Received: rho=1.0"),
    (lambda w, g, s: ops.rmsprop_update(w, g, s, epsilon=-1e-7), r"Received: epsilon=-1e-07"),
    (lambda w, g, s: ops.adagrad_update(w, g, s, learning_rate=float("inf")),
     r"Received: learning_rate=inf"),
    (lambda w, g, s: ops.adam_update(w, g, s, s.copy(), step=1, beta_1=1.0),
     r"`beta_1` must be a float in \[0, 1\). Received: beta_1=1.0"),
    (lambda w, g, s: ops.adam_update(w, g, s, s.copy(), step=1, beta_2=-0.5),
     r"Received: beta_2=-0.5"),
], ids=["lr<0", "lr nan", "momentum<0", "momentum>1", "rho=1", "eps<0", "lr inf", "beta_1=1",
        "beta_2<0"])
def test_bad_hyper_parameters_are_value_error(call, message):
    w, g, s = np.ones(4, f32), np.ones(4, f32), np.zeros(4, f32)
    with pytest.raises(ValueError, match=message):
        call(w, g, s)
    np.testing.assert_array_equal(w, 1.0)  # nothing was updated


def test_non_numeric_hyper_parameter_is_type_error():
    w, g = np.ones(4, f32), np.ones(4, f32)
    with pytest.raises(TypeError, match="`learning_rate` must be a real number"):
        ops.sgd_update(w, g, learning_rate="0.1")
    with pytest.raises(TypeError, match="`momentum` must be a real number. Received: momentum=Tr"):
        ops.sgd_update(w, g, np.zeros(4, f32), momentum=True)


@pytest.mark.parametrize("grad", [np.array(["a", "b", "c", "d"]), [None] * 4,
                                  np.ones(4, np.complex64), "abcd"],
                         ids=["str", "object", "complex", "string"])
def test_non_numeric_grad_is_type_error(grad):
    w = np.ones(4, f32)
    with pytest.raises(TypeError, match="grad must be an array of real numbers"):
        ops.sgd_update(w, grad)
    np.testing.assert_array_equal(w, 1.0)
