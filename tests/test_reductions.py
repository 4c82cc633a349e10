"""sum, mean and argmax against numpy (float64 references)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import ops

SIZES = [0, 1, 2, 7, 17, 64, 127, 128, 129, 1000]


def check_sum(x, axis=None, keepdims=False):
    got = ops.sum(x, axis=axis, keepdims=keepdims)
    x64 = np.asarray(x, np.float64)
    want = x64.sum(axis=axis, keepdims=keepdims)
    assert np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == np.float32
    scale = np.abs(x64).sum(axis=axis, keepdims=keepdims)
    assert np.all(np.abs(np.asarray(got, np.float64) - want) <= 1e-6 * scale + 1e-30)


@pytest.mark.parametrize("rows,cols", list(itertools.product(SIZES, [1, 3, 129, 512])))
def test_sum_every_axis(rng, rows, cols):
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    for axis in (None, 0, 1, -1, -2, (0, 1)):
        for keepdims in (False, True):
            check_sum(x, axis, keepdims)


def test_sum_bias_gradient_and_full_reduction(rng):
    g = rng.standard_normal((128, 512)).astype(np.float32)
    check_sum(g, axis=0)
    big = rng.standard_normal(3_000_001).astype(np.float32) + 0.5
    check_sum(big)
    assert isinstance(ops.sum(big), np.float32)  # like np.sum on a float32 array


@given(arr=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=6),
                      elements=st.floats(-100, 100, width=32)),
       data=st.data())
@settings(max_examples=150, deadline=None)
def test_sum_random_axes(arr, data):
    axes = data.draw(st.lists(st.integers(-arr.ndim, arr.ndim - 1), unique_by=lambda a: a % arr.ndim,
                              max_size=arr.ndim))
    check_sum(arr, tuple(axes) if axes else None, data.draw(st.booleans()))


def test_sum_views_dtypes_and_out(rng):
    x = rng.standard_normal((30, 20, 10)).astype(np.float32)
    check_sum(x.transpose(2, 0, 1), axis=1)
    check_sum(x[::-1, ::2], axis=(0, 2))
    check_sum(np.arange(100, dtype=np.int32).reshape(10, 10), axis=1)
    check_sum(np.ones((4, 4), bool), axis=0)
    out = np.empty(20, np.float32)
    assert ops.sum(x, axis=(0, 2), out=out) is out
    with pytest.raises(ValueError, match="shape"):
        ops.sum(x, axis=0, out=np.empty(3, np.float32))


def test_mean(rng):
    x = rng.standard_normal((17, 129)).astype(np.float32)
    for axis in (None, 0, 1, (0, 1)):
        np.testing.assert_allclose(ops.mean(x, axis=axis), x.astype(np.float64).mean(axis=axis),
                                   rtol=1e-5, atol=1e-7)
    assert ops.mean(x, axis=0, keepdims=True).shape == (1, 129)
    assert np.isnan(ops.mean(np.empty((0, 3)))) and np.isnan(ops.mean(np.empty((0, 3)), axis=0)).all()


def test_axis_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        ops.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        ops.sum(x, axis=(0, -2))
    with pytest.raises(TypeError, match="axis"):
        ops.sum(x, axis=1.5)
    with pytest.raises(TypeError, match="real numbers"):
        ops.sum(np.array(["x"]))


@pytest.mark.parametrize("shape", [(1,), (7,), (1000,), (17, 129), (4, 5, 6)])
def test_argmax(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    assert ops.argmax(x) == np.argmax(x)
    for axis in range(-len(shape), len(shape)):
        np.testing.assert_array_equal(ops.argmax(x, axis=axis), np.argmax(x, axis=axis))
        assert ops.argmax(x, axis=axis).dtype == np.int64


def test_argmax_ties_nan_and_empty():
    assert ops.argmax([1.0, 3.0, 3.0, 2.0]) == 1
    x = np.array([[1.0, np.nan, 5.0, np.nan], [np.nan, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(ops.argmax(x, axis=1), np.argmax(x, axis=1))
    assert ops.argmax(x) == np.argmax(x)
    with pytest.raises(ValueError, match="empty sequence"):
        ops.argmax(np.empty(0))
    with pytest.raises(ValueError, match="empty sequence"):
        ops.argmax(np.empty((3, 0)), axis=1)


def test_same_result_for_any_thread_count(rng, restore_threads):
    x = rng.standard_normal((600, 1000)).astype(np.float32)
    flat = rng.standard_normal(2_000_000).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        results.append((ops.sum(x, axis=0), ops.sum(x, axis=1), ops.sum(flat)))
    for r in results[1:]:
        for a, b in zip(results[0], r):
            assert np.array_equal(a, b)
