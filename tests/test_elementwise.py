"""Element-wise ops with NumPy broadcasting against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import ops

SIZES = [0, 1, 2, 7, 17, 64, 127, 128, 129, 1000]

BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
}
GRADS = {
    "relu_grad": lambda g, x: np.where(x > 0, g, np.float32(0)),
    "sigmoid_grad": lambda g, y: g * (y * (1 - y)),
    "tanh_grad": lambda g, y: g * (1 - y * y),
}


def f32(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def check_binary(name, a, b):
    got = getattr(ops, name)(a, b)
    a32, b32 = np.asarray(a, np.float32), np.asarray(b, np.float32)
    with np.errstate(all="ignore"):
        want = (BINARY.get(name) or GRADS[name])(a32, b32).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == want.shape
    if name in BINARY:
        np.testing.assert_array_equal(got, want)  # the same IEEE operation: bit-exact
    else:
        # A fused multiply-add may round once where numpy rounds twice: compare with float64,
        # within a few float32 ulps of the terms' size.
        g64, y64 = np.broadcast_arrays(a32.astype(np.float64), b32.astype(np.float64))
        want64 = GRADS[name](g64, y64)
        tol = 4e-7 * np.abs(g64) * (1 + np.abs(y64)) ** 2
        assert np.all(np.abs(got - want64) <= tol)


@pytest.mark.parametrize("name", list(BINARY) + list(GRADS))
@pytest.mark.parametrize("n", SIZES)
def test_binary_same_shape_all_sizes(rng, name, n):
    check_binary(name, f32(rng, (n, 3)), f32(rng, (n, 3)) + 0.5)


@pytest.mark.parametrize("name", list(BINARY) + list(GRADS))
@pytest.mark.parametrize("shapes", [
    ((64, 3, 32, 10), (32, 10)), ((32, 10), (10,)), ((128, 512), (512,)), ((7, 1), (1, 9)),
    ((1,), (5, 4)), ((2, 1, 3), (4, 1)), ((), (3, 2)), ((3, 2), ()), ((0, 5), (5,)),
    ((4, 0, 2), (1, 2)), ((1, 1, 1), (1,)), ((1000, 1), (1000, 17)),
])
def test_binary_broadcasting(rng, name, shapes):
    a, b = f32(rng, shapes[0]), f32(rng, shapes[1]) + 0.25
    check_binary(name, a, b)
    check_binary(name, b, a)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, max_side=6),
       name=st.sampled_from(list(BINARY) + list(GRADS)), seed=st.integers(0, 2**31))
@settings(max_examples=150, deadline=None)
def test_binary_random_broadcasting(shapes, name, seed):
    rng = np.random.default_rng(seed)
    a, b = (f32(rng, s) for s in shapes.input_shapes)
    check_binary(name, a, b)


@pytest.mark.parametrize("name", list(BINARY))
def test_strided_transposed_negative_views_read_in_place(rng, name):
    base = f32(rng, (40, 30))
    other = f32(rng, (30, 40)) + 2
    big = f32(rng, (40, 40)) + 2
    views = [(base[::2, ::3], big[:40:2, 1:21:2]),          # steps in both axes
             (base.T, other),                                # a transposed view
             (base[::-1, ::-2], other.T[::-1, 1::2]),        # negative strides
             (base[:, 3], other[3, :]),                      # a column and a row
             (np.asfortranarray(base), other.T)]             # Fortran order
    for a, b in views:
        check_binary(name, a, b)


def test_broadcasting_is_not_materialised_in_python(rng, monkeypatch):
    # The binding receives the small operand as it is: no np.broadcast_to / repeat copies.
    from fastnn import _C
    seen = []
    real = _C.binary
    monkeypatch.setattr(_C, "binary", lambda op, a, b, out: (seen.append(b.shape), real(op, a, b, out)))
    ops.add(f32(rng, (128, 512)), f32(rng, (512,)))
    assert seen == [(512,)]


UNARY = {
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x.astype(np.float64))),
    "tanh": lambda x: np.tanh(x.astype(np.float64)),
    "exp": lambda x: np.exp(x.astype(np.float64)),
    "log": lambda x: np.log(x.astype(np.float64)),
}


def check_unary(name, x):
    got = getattr(ops, name)(x)
    with np.errstate(all="ignore"):
        want = UNARY[name](np.asarray(x, np.float32))
    assert got.dtype == np.float32 and got.shape == np.shape(x)
    if name == "relu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=3e-6, atol=1e-37)


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("n", SIZES + [100_003])
def test_unary_all_sizes(rng, name, n):
    x = f32(rng, n) * 4
    if name == "log":
        x = np.abs(x) + 1e-3
    check_unary(name, x)
    check_unary(name, x[::-3])  # strided


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_nd_and_views(rng, name):
    x = f32(rng, (3, 4, 5))
    if name == "log":
        x = np.abs(x) + 0.1
    check_unary(name, x)
    check_unary(name, x.transpose(2, 0, 1))
    check_unary(name, np.float32(0.5))


def test_special_values():
    special = np.array([0.0, -0.0, 1.0, -1.0, 88.0, 89.0, -104.0, -110.0, 1e30, -1e30,
                        np.inf, -np.inf, np.nan], np.float32)
    with np.errstate(all="ignore"):
        # inf, 0, NaN and -inf exactly where numpy has them; finite values within an ulp or two
        # (glibc's expf and numpy's SIMD exp may round the last bit differently).
        for fn, ref in ((ops.exp, np.exp), (ops.log, np.log), (ops.tanh, np.tanh)):
            np.testing.assert_allclose(fn(special), ref(special), rtol=3e-7, atol=0)
        np.testing.assert_array_equal(ops.relu(special), np.maximum(special, np.float32(0)))
    s = ops.sigmoid(np.array([-1e4, -100, -50, 0, 50, 100, 1e4, np.inf, -np.inf], np.float32))
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, [0, 3.7e-44, 1.9287e-22, 0.5, 1, 1, 1, 1, 0], rtol=1e-3, atol=1e-45)
    assert np.isnan(ops.sigmoid(np.float32(np.nan)))
    m = ops.maximum([np.nan, 1.0, 2.0], [0.0, np.nan, 1.0])
    assert np.isnan(m[0]) and np.isnan(m[1]) and m[2] == 2.0
    m = ops.minimum([np.nan, 1.0, 2.0], [0.0, np.nan, 1.0])
    assert np.isnan(m[0]) and np.isnan(m[1]) and m[2] == 1.0
    zeros = np.array([-0.0, 0.0], np.float32)  # equal values: numpy returns the second operand
    for fn, ref in ((ops.maximum, np.maximum), (ops.minimum, np.minimum)):
        for a, b in ((zeros, zeros[::-1]), (zeros[::-1], zeros)):
            np.testing.assert_array_equal(np.signbit(fn(a, b)), np.signbit(ref(a, b)))
    assert np.array_equal(ops.relu_grad([1.0, 1.0, 1.0], [-1.0, 0.0, 2.0]), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_result_depends_on_the_value_only(rng, name):
    # The SIMD paths must not give a different last bit for the same value at another position,
    # stride, length or next to an out-of-range neighbour (the tail and the fallback lanes).
    x = f32(rng, 61) * 30
    if name == "log":
        x = np.abs(x) + 1e-3
    x[[5, 17, 40]] = [np.nan, 1e4, -1e4]
    one_by_one = np.concatenate([getattr(ops, name)(x[i:i + 1]) for i in range(len(x))])
    fn = getattr(ops, name)
    with np.errstate(all="ignore"):
        for view, idx in ((x, slice(None)), (x[3:], slice(3, None)), (x[::-1], slice(None, None, -1)),
                          (x[1::3], slice(1, None, 3)), (np.tile(x, (3, 1)).T[:, 1], slice(None))):
            np.testing.assert_array_equal(fn(view), one_by_one[idx])
            np.testing.assert_array_equal(fn(view.copy()), one_by_one[idx])


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_])
def test_other_dtypes_are_converted(rng, dtype):
    a = (rng.standard_normal((5, 6)) * 3).astype(dtype)
    b = (rng.standard_normal(6) * 3 + 10).astype(dtype)
    for name in BINARY:
        check_binary(name, a.astype(np.float32), b.astype(np.float32))
        np.testing.assert_array_equal(getattr(ops, name)(a, b),
                                      getattr(ops, name)(a.astype(np.float32), b.astype(np.float32)))
    np.testing.assert_array_equal(ops.relu(a), ops.relu(a.astype(np.float32)))


def test_scalars_and_lists():
    np.testing.assert_array_equal(ops.add([1, 2, 3], 1), np.array([2, 3, 4], np.float32))
    np.testing.assert_array_equal(ops.multiply(2.5, [[1], [2]]), np.array([[2.5], [5.0]], np.float32))
    assert ops.add(1.0, 2.0).shape == ()


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1j, 2j]),
                                 np.array([object(), None], dtype=object)])
def test_non_numeric_is_a_type_error(bad):
    with pytest.raises(TypeError, match="real numbers"):
        ops.add(bad, 1.0)
    with pytest.raises(TypeError, match="real numbers"):
        ops.exp(bad)


def test_non_broadcastable_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5,\)"):
        ops.add(np.ones((3, 4)), np.ones(5))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)"):
        ops.relu_grad(np.ones((2, 3)), np.ones((3, 2)))


def test_bad_out(rng):
    a = f32(rng, (4, 5))
    with pytest.raises(TypeError, match="float32"):
        ops.add(a, a, out=np.empty((4, 5), np.float64))
    with pytest.raises(ValueError, match="shape"):
        ops.add(a, a, out=np.empty((5, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.exp(a, out=np.empty((5, 4), np.float32).T)
    ro = np.empty((4, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.relu(a, out=ro)


def test_in_place_and_overlapping_out(rng):
    a, b = f32(rng, (50, 40)), f32(rng, 40)
    want = a + b
    res = ops.add(a, b, out=a)
    assert res is a
    np.testing.assert_array_equal(a, want)
    x = f32(rng, 1000)
    want = np.exp(x)
    ops.exp(x, out=x)
    np.testing.assert_allclose(x, want, rtol=3e-6)
    # out overlapping an input shifted by one element: computed through a temporary.
    buf = np.arange(11, dtype=np.float32)
    src = buf[:-1].copy()
    ops.add(buf[:-1], 1.0, out=buf[1:])
    np.testing.assert_array_equal(buf[1:], src + 1)


def test_reshape_and_transpose_follow_numpy(rng):
    x = f32(rng, (2, 3, 4))
    assert np.shares_memory(ops.reshape(x, (4, -1)), x)  # views, as numpy's
    np.testing.assert_array_equal(ops.reshape(x, (4, -1)), x.reshape(4, -1))
    np.testing.assert_array_equal(ops.transpose(x), x.T)
    np.testing.assert_array_equal(ops.transpose(x, (1, 2, 0)), x.transpose(1, 2, 0))
    assert ops.reshape([[1, 2]], (2,)).dtype == np.float32
    with pytest.raises(ValueError):
        ops.reshape(x, (5, -1))


def test_empty(rng):
    assert ops.add(np.empty((0, 3), np.float32), np.ones(3)).shape == (0, 3)
    assert ops.tanh(np.empty((2, 0))).shape == (2, 0)


def test_same_result_for_any_thread_count(rng, restore_threads):
    a, b = f32(rng, (700, 1000)), f32(rng, 1000)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        results.append((ops.add(a, b), ops.sigmoid(a), ops.multiply(a[:, ::2], b[::2])))
    for r in results[1:]:
        for x, y in zip(results[0], r):
            assert np.array_equal(x, y)
