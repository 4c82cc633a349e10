"""softmax and the fused softmax cross-entropy against numpy (float64 references)."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import ops


def ref_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_xent(z, y):
    z = np.asarray(z, np.float64)
    n, k = z.shape
    t = np.eye(k)[y] if np.ndim(y) == 1 else np.asarray(y, np.float64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    loss = float(np.mean(-(t * (z - lse[:, None])).sum(1))) if n else float("nan")
    grad = (ref_softmax(z) * t.sum(1, keepdims=True) - t) / max(n, 1)
    return loss, grad


@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (7, 3), (128, 10), (129, 127), (2, 1000), (0, 5)])
def test_softmax_rows(rng, shape):
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    got = ops.softmax(x)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, ref_softmax(x), rtol=2e-6, atol=1e-8)


def test_softmax_every_axis_views_and_out(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    for axis in range(-3, 3):
        np.testing.assert_allclose(ops.softmax(x, axis=axis), ref_softmax(x, axis), rtol=2e-6, atol=1e-8)
    np.testing.assert_allclose(ops.softmax(x.transpose(2, 1, 0)), ref_softmax(x.transpose(2, 1, 0)),
                               rtol=2e-6, atol=1e-8)
    y = x.copy()
    assert ops.softmax(y, out=y) is y  # in place
    np.testing.assert_allclose(y, ref_softmax(x), rtol=2e-6, atol=1e-8)
    out = np.empty_like(x)
    assert ops.softmax(x, axis=0, out=out) is out
    np.testing.assert_allclose(out, ref_softmax(x, 0), rtol=2e-6, atol=1e-8)


def test_softmax_extreme_values():
    x = np.array([[1e30, 0, -1e30], [1e4, 1e4, -1e4], [-np.inf, 0, 1], [88, 89, 90]], np.float32)
    got = ops.softmax(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref_softmax(x), rtol=1e-6, atol=1e-30)
    assert np.isnan(ops.softmax(np.full((1, 3), -np.inf, np.float32))).all()


@pytest.mark.parametrize("n,k", [(1, 1), (1, 10), (7, 3), (128, 10), (129, 1000), (2, 2)])
def test_xent_index_labels(rng, n, k):
    z = (rng.standard_normal((n, k)) * 3).astype(np.float32)
    y = rng.integers(0, k, n)
    loss, grad = ops.softmax_cross_entropy(z, y)
    want_loss, want_grad = ref_xent(z, y)
    assert isinstance(loss, float) and grad.dtype == np.float32 and grad.shape == (n, k)
    assert loss == pytest.approx(want_loss, rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-8)
    for dtype in (np.int32, np.int64, np.float64) + ((np.uint8,) if k <= 256 else ()):
        l2, g2 = ops.softmax_cross_entropy(z, y.astype(dtype))
        assert l2 == loss and np.array_equal(g2, grad)


@pytest.mark.parametrize("n,k", [(1, 4), (16, 10), (33, 7)])
def test_xent_probability_rows(rng, n, k):
    z = rng.standard_normal((n, k)).astype(np.float32)
    t = rng.dirichlet(np.ones(k), n).astype(np.float32)
    loss, grad = ops.softmax_cross_entropy(z, t)
    want_loss, want_grad = ref_xent(z, t)
    assert loss == pytest.approx(want_loss, rel=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-8)
    onehot = np.eye(k, dtype=np.float32)[np.arange(n) % k]
    l1, g1 = ops.softmax_cross_entropy(z, onehot)
    l2, g2 = ops.softmax_cross_entropy(z, np.arange(n) % k)
    assert l1 == pytest.approx(l2, rel=1e-6)
    np.testing.assert_allclose(g1, g2, atol=1e-7)


@pytest.mark.parametrize("n,k", [(0, 3), (1, 1), (7, 3), (128, 10)])
def test_xent_per_sample_losses(rng, n, k):
    z = (rng.standard_normal((n, k)) * 3).astype(np.float32)
    for y in (rng.integers(0, k, n), rng.dirichlet(np.ones(k), n).astype(np.float32)):
        rows, grad = ops.softmax_cross_entropy(z, y, reduction="none")
        t = np.eye(k)[y] if y.ndim == 1 else y.astype(np.float64)
        z64 = z.astype(np.float64)
        lse = np.log(np.exp(z64 - z64.max(1, keepdims=True)).sum(1)) + (z64.max(1) if n else 0)
        assert rows.dtype == np.float32 and rows.shape == (n,)
        np.testing.assert_allclose(rows, -(t * (z64 - lse[:, None])).sum(1), rtol=1e-6, atol=1e-7)
        assert np.array_equal(grad, ops.softmax_cross_entropy(z, y)[1])  # the mean's gradient
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'none'"):
        ops.softmax_cross_entropy(z, y, reduction="sum")


def test_xent_gradient_by_finite_differences(rng):
    z = rng.standard_normal((3, 4))
    y = np.array([2, 0, 3])
    _, grad = ops.softmax_cross_entropy(z, y)
    eps = 1e-3
    numeric = np.empty_like(z)
    for i in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (ref_xent(up, y)[0] - ref_xent(down, y)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-6)


def test_xent_extreme_logits():
    z = np.array([[1e4, -1e4, 0], [-1e30, 1e30, 0]], np.float32)
    loss, grad = ops.softmax_cross_entropy(z, [0, 1])
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx(0.0, abs=1e-6)


def test_xent_empty_batch():
    loss, grad = ops.softmax_cross_entropy(np.empty((0, 5), np.float32), np.empty(0, np.int64))
    assert np.isnan(loss) and grad.shape == (0, 5)


def test_xent_errors():
    z = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"label 3 at index 2 is out of range \[0, 3\)"):
        ops.softmax_cross_entropy(z, [0, 1, 3, 0])
    with pytest.raises(ValueError, match=r"label -1 at index 0"):
        ops.softmax_cross_entropy(z, [-1, 1, 1, 0])
    with pytest.raises(ValueError, match="integral"):
        ops.softmax_cross_entropy(z, [0.5, 1, 1, 0])
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 3\).*received \(5,\)"):
        ops.softmax_cross_entropy(z, [0, 1, 1, 0, 2])
    with pytest.raises(ValueError, match=r"received \(4, 2\)"):
        ops.softmax_cross_entropy(z, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2-d"):
        ops.softmax_cross_entropy(np.zeros(3), [0])
    with pytest.raises(ValueError, match="k >= 1"):
        ops.softmax_cross_entropy(np.zeros((2, 0)), [0, 0])
    with pytest.raises(TypeError, match="numeric"):
        ops.softmax_cross_entropy(z, np.array(["a", "b", "c", "d"]))
    with pytest.raises(TypeError, match="real numbers"):
        ops.softmax_cross_entropy(z.astype(complex), [0, 1, 1, 0])
    from fastnn import _C
    with pytest.raises(ValueError, match="out of range"):  # the binding checks too
        _C.softmax_xent(z, np.array([0, 9, 0, 0], np.int64), None, np.empty((4, 3), np.float32))


def test_same_result_for_any_thread_count(rng, restore_threads):
    z = rng.standard_normal((20000, 10)).astype(np.float32)
    y = rng.integers(0, 10, 20000)
    results = []
    for threads in (1, 2, 3):
        fastnn.set_num_threads(threads)
        results.append((ops.softmax_cross_entropy(z, y), ops.softmax(z)))
    for (l, g), s in results[1:]:
        assert l == results[0][0][0]
        assert np.array_equal(g, results[0][0][1]) and np.array_equal(s, results[0][1])
