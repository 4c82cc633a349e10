"""fastnn.ops.matmul (the sgemm kernel) against a float64 numpy reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import ops

SIZES = [0, 1, 2, 7, 17, 64, 127, 128, 129, 1000]
# Around the register tiles (MR 6, NR 16 or 32) and the cache blocks (MC 144, KC 256 or 384).
BLOCK_EDGES = [5, 6, 7, 15, 16, 17, 31, 32, 33, 143, 145, 255, 259, 383, 387, 784]


def reference(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    a64 = np.asarray(a, np.float64)
    b64 = np.asarray(b, np.float64)
    opa = a64.T if trans_a else a64
    opb = b64.T if trans_b else b64
    r = alpha * np.dot(opa, opb)
    if c is not None and beta != 0.0:
        r = r + beta * np.asarray(c, np.float64)
    return r, np.abs(alpha) * np.dot(np.abs(opa), np.abs(opb))


def assert_gemm_close(got, a, b, **kw):
    want, scale = reference(a, b, **kw)
    assert got.dtype == np.float32
    assert got.shape == want.shape
    k = (np.asarray(a).T if kw.get("trans_a") else np.asarray(a)).shape[-1]
    # float32 dot products of length k: error grows like sqrt(k) * eps * sum |a||b|.
    tol = 4e-7 * (np.sqrt(k) + 4) * scale + 1e-30
    if kw.get("c") is not None and kw.get("beta", 0.0) != 0.0:
        tol = tol + 2e-7 * np.abs(kw["beta"] * np.asarray(kw["c"], np.float64))
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= tol), f"max error {err.max():.3g}, tolerance {tol.max():.3g}"


def random(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("m,k,n", [(m, k, n) for m, k, n in itertools.product(SIZES, repeat=3)
                                   if m * k * n <= 2_000_000][::7])
def test_sizes_and_flags(rng, m, k, n, trans_a, trans_b):
    a = random(rng, (k, m) if trans_a else (m, k))
    b = random(rng, (n, k) if trans_b else (k, n))
    assert_gemm_close(ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b), a, b,
                      trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("dim", ["m", "k", "n"])
@pytest.mark.parametrize("size", BLOCK_EDGES)
def test_block_edges(rng, dim, size):
    m, k, n = {"m": (size, 33, 21), "k": (13, size, 19), "n": (11, 29, size)}[dim]
    for trans_a, trans_b in itertools.product([False, True], repeat=2):
        a = random(rng, (k, m) if trans_a else (m, k))
        b = random(rng, (n, k) if trans_b else (k, n))
        assert_gemm_close(ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b), a, b,
                          trans_a=trans_a, trans_b=trans_b)


def test_wider_than_one_nc_block(rng):
    a, b = random(rng, (9, 20)), random(rng, (20, 4100))
    assert_gemm_close(ops.matmul(a, b), a, b)


def test_mlp_shapes(rng):
    x, w1, w2 = random(rng, (128, 784)), random(rng, (784, 512)), random(rng, (512, 10))
    h = ops.matmul(x, w1)
    assert_gemm_close(h, x, w1)
    assert_gemm_close(ops.matmul(h, w2), h, w2)
    dz = random(rng, (128, 512))
    assert_gemm_close(ops.matmul(x, dz, trans_a=True), x, dz, trans_a=True)
    dz2 = random(rng, (128, 10))
    assert_gemm_close(ops.matmul(dz2, w2, trans_b=True), dz2, w2, trans_b=True)


@given(m=st.integers(0, 300), k=st.integers(0, 300), n=st.integers(0, 300),
       trans_a=st.booleans(), trans_b=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_random_shapes(m, k, n, trans_a, trans_b, seed):
    rng = np.random.default_rng(seed)
    a = random(rng, (k, m) if trans_a else (m, k))
    b = random(rng, (n, k) if trans_b else (k, n))
    assert_gemm_close(ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b), a, b,
                      trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 0.75), (0.0, 2.0)])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 300, 17), (129, 128, 127), (6, 0, 16)])
def test_alpha_beta(rng, m, k, n, alpha, beta):
    a, b, c0 = random(rng, (m, k)), random(rng, (k, n)), random(rng, (m, n))
    out = c0.copy()
    res = ops.matmul(a, b, out=out, alpha=alpha, beta=beta)
    assert res is out
    assert_gemm_close(out, a, b, alpha=alpha, beta=beta, c=c0)


def test_beta_zero_ignores_nan_in_out(rng):
    a, b = random(rng, (20, 30)), random(rng, (30, 40))
    out = np.full((20, 40), np.nan, np.float32)
    ops.matmul(a, b, out=out)
    assert np.isfinite(out).all()
    assert_gemm_close(out, a, b)


def test_zero_k_scales_out(rng):
    out = np.full((3, 4), 2.0, np.float32)
    ops.matmul(np.empty((3, 0), np.float32), np.empty((0, 4), np.float32), out=out, beta=0.5)
    np.testing.assert_array_equal(out, np.ones((3, 4), np.float32))
    z = ops.matmul(np.empty((3, 0)), np.empty((0, 4)))
    np.testing.assert_array_equal(z, np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("view", ["step", "transposed", "negative", "column", "fortran"])
def test_strided_inputs_read_in_place(rng, view):
    base_a, base_b = random(rng, (90, 70)), random(rng, (80, 60))
    a, b = {
        "step": (base_a[::2, 1::3], base_b[3:26, ::2]),
        "transposed": (base_a.T[:40, :23], base_b[:23, :50]),
        "negative": (base_a[::-1, ::-2][:, :30], base_b[::-1][:30]),
        "column": (base_a[:80, 5:6].T, base_b[:, 7:8]),
        "fortran": (np.asfortranarray(base_a[:31, :17]), np.asfortranarray(base_b[:17, :13])),
    }[view]
    assert_gemm_close(ops.matmul(a, b), a, b)
    assert_gemm_close(ops.matmul(a.T, b.T, trans_a=True, trans_b=True), a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_])
def test_other_dtypes_are_converted(rng, dtype):
    a = (rng.standard_normal((9, 11)) * 3).astype(dtype)
    b = (rng.standard_normal((11, 5)) * 3).astype(dtype)
    got = ops.matmul(a, b)
    assert got.dtype == np.float32
    assert_gemm_close(got, a.astype(np.float32), b.astype(np.float32))


def test_lists_are_accepted():
    got = ops.matmul([[1, 2], [3, 4]], [[5], [6]])
    np.testing.assert_array_equal(got, np.array([[17], [39]], np.float32))


def test_nd_a_follows_np_dot(rng):
    a, b = random(rng, (4, 3, 5, 7)), random(rng, (7, 6))
    got = ops.matmul(a, b)
    assert got.shape == (4, 3, 5, 6)
    np.testing.assert_allclose(got, np.dot(a.astype(np.float64), b), rtol=1e-5, atol=1e-5)
    out = np.empty((4, 3, 5, 6), np.float32)
    assert ops.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, got)
    nc = a.transpose(1, 0, 2, 3)  # non-contiguous N-d
    np.testing.assert_allclose(ops.matmul(nc, b), np.dot(nc.astype(np.float64), b), rtol=1e-5, atol=1e-5)


def test_vectors_follow_np_dot(rng):
    v, m, w = random(rng, 7), random(rng, (7, 3)), random(rng, 7)
    np.testing.assert_allclose(ops.matmul(v, m), np.dot(v, m), rtol=1e-5, atol=1e-6)
    assert ops.matmul(v, m).shape == (3,)
    np.testing.assert_allclose(ops.matmul(m.T, w), np.dot(m.T, w), rtol=1e-5, atol=1e-6)
    assert ops.matmul(m.T, w).shape == (3,)
    np.testing.assert_allclose(ops.matmul(v, w), np.dot(v, w), rtol=1e-5)
    assert ops.matmul(v, w).shape == ()


def test_out_aliasing_an_input_gives_the_right_answer(rng):
    a, b = random(rng, (50, 50)), random(rng, (50, 50))
    want, _ = reference(a, b)
    ops.matmul(a, b, out=a)
    np.testing.assert_allclose(a, want, rtol=1e-4, atol=1e-4)
    c0 = random(rng, (50, 50))
    c = c0.copy()
    ops.matmul(c, b, out=c, beta=1.0)
    np.testing.assert_allclose(c, c0.astype(np.float64) @ b + c0, rtol=1e-4, atol=1e-4)


def test_same_result_for_any_thread_count(rng, restore_threads):
    cases = [(128, 784, 512, False, False), (784, 128, 512, True, False),
             (128, 10, 512, False, True), (128, 512, 10, False, False),
             (301, 259, 333, True, True), (1000, 37, 10, False, False)]
    for m, k, n, ta, tb in cases:
        a = random(rng, (k, m) if ta else (m, k))
        b = random(rng, (n, k) if tb else (k, n))
        results = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            results.append(ops.matmul(a, b, trans_a=ta, trans_b=tb))
        assert np.array_equal(results[0], results[1]), (m, k, n)
        assert np.array_equal(results[0], results[2]), (m, k, n)


# ---- errors ---------------------------------------------------------------------------------

def test_inner_dimension_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 2\)"):
        ops.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="trans_b"):
        ops.matmul(np.ones((3, 4)), np.ones((5, 2)), trans_b=True)


def test_wrong_ndim():
    with pytest.raises(ValueError, match="at least 1 dimension"):
        ops.matmul(np.float32(3.0), np.ones((1, 2)))
    with pytest.raises(ValueError, match="1-d or 2-d"):
        ops.matmul(np.ones((2, 3)), np.ones((3, 2, 2)))
    with pytest.raises(ValueError, match="2-d operands"):
        ops.matmul(np.ones((2, 3, 4)), np.ones((3, 2)), trans_a=True)


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.array([[1 + 2j, 3j]]),
                                 np.array([[object(), object()]], dtype=object)])
def test_non_numeric_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="real numbers"):
        ops.matmul(bad, np.ones((2, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        ops.matmul(np.ones((2, 2)), bad.T)


def test_bad_out():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        ops.matmul(a, b, out=np.empty((2, 4), np.float64))
    with pytest.raises(ValueError, match=r"shape \(4, 2\).*\(2, 4\)"):
        ops.matmul(a, b, out=np.empty((4, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.matmul(a, b, out=np.empty((4, 2), np.float32).T)
    ro = np.empty((2, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(a, b, out=ro)
    with pytest.raises(TypeError, match="numpy array"):
        ops.matmul(a, b, out=[[0.0] * 4] * 2)


def test_beta_needs_out():
    with pytest.raises(ValueError, match="beta"):
        ops.matmul(np.ones((2, 2)), np.ones((2, 2)), beta=1.0)


def test_private_binding_rejects_bad_arrays_instead_of_crashing():
    from fastnn import _C
    a = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _C.sgemm(a.astype(np.float64), a.T.copy(), np.empty((2, 2), np.float32), False, False, 1.0, 0.0)
    with pytest.raises(ValueError, match="inner dimensions"):
        _C.sgemm(a, a, np.empty((2, 3), np.float32), False, False, 1.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        _C.sgemm(a, a.T.copy(), np.empty((3, 3), np.float32), False, False, 1.0, 0.0)


@pytest.mark.parametrize("k", [1, 13, 384, 785])
@pytest.mark.parametrize("n", [1, 15, 64, 100, 513])
def test_a_few_rows_get_the_bits_they_get_in_a_batch(rng, k, n):
    # A few rows take the small-M path (B read in place; up to 64 rows while B's share of each
    # thread fits in L2), a batch the packed one: per element the same operations, so a
    # prediction on one sample equals its row in a batch.
    a = random(rng, (200, k))
    b = random(rng, (k, n))
    batch = ops.matmul(a, b)
    for m in (1, 2, 3, 5, 16, 17, 32, 39, 64, 65):
        np.testing.assert_array_equal(ops.matmul(a[:m], b), batch[:m])
    c = random(rng, (3, n))
    out = c.copy()
    ops.matmul(a[:3], b, alpha=0.5, beta=2.0, out=out)
    full = np.concatenate([c, np.zeros((197, n), np.float32)])
    ops.matmul(a, b, alpha=0.5, beta=2.0, out=full)
    np.testing.assert_array_equal(out, full[:3])
    assert_gemm_close(ops.matmul(a[:5], b), a[:5], b)


@pytest.mark.parametrize("m, k, n", [(1, 385, 1), (3, 800, 2), (40, 100, 10), (1, 64, 12)])
def test_narrow_products_get_the_same_bits_from_any_layout(rng, m, k, n):
    # N <= 12 runs a kernel of its own (its own summation order): a strided or transposed view
    # of A or B must take it too, not the path its layout would otherwise get.
    a = random(rng, (m, k))
    b = random(rng, (k, n))
    want = ops.matmul(a, b, alpha=0.45)
    a_views = [np.asfortranarray(a), np.repeat(a, 2, axis=1)[:, ::2], a[::-1][::-1]]
    b_views = [np.asfortranarray(b), np.repeat(b, 3, axis=1)[:, ::3], b]
    for av in a_views:
        for bv in b_views:
            np.testing.assert_array_equal(ops.matmul(av, bv, alpha=0.45), want)


def test_one_row_dense_layer_and_predict_match_the_batch(rng, restore_threads):
    from fastnn import layers, models

    model = models.Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    x = random(rng, (300, 784))
    for threads in (1, 2):
        fastnn.set_num_threads(threads)
        batch = model.predict(x, verbose=0)
        for m in (1, 7, 16, 32, 64):
            np.testing.assert_array_equal(model.predict(x[:m], verbose=0), batch[:m])
            np.testing.assert_array_equal(np.asarray(model(x[:m], training=False)), batch[:m])
