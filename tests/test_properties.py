"""Property tests (hypothesis) of every public op in fastnn.ops against a float64 numpy reference.

Each property is registered twice by ``property_test``:

* ``test_<name>``: a small, derandomized budget (a few hundred cases over the whole file), part
  of the normal run, reproducible in CI;
* ``test_<name>_slow``: marked ``slow``, a large random budget (>= 10,000 cases in total). Slow
  twins run only when a marker expression is given (``pytest -m slow``); a plain ``pytest`` skips
  them, since pyproject's addopts deselects nothing and CI runs the suite several times.

What the properties pin down (ops.py's module docstring): inputs of any real dtype or layout give
the result of converting them to float32 first; object, complex and string arrays are a TypeError
naming the dtype; results are float32 and agree with numpy within float32 rounding; ``out=`` is
written and returned, and a bad one is refused. Inputs are finite and moderate except in the tests
dedicated to NaN/inf propagation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastnn import ops

F32 = np.float32
U = 2.0**-24  # unit roundoff of float32: one correctly rounded operation is off by <= U * |x|
EPS = 2.0**-23  # float32 machine epsilon (one ulp at 1.0)

# ---- the two budgets ------------------------------------------------------------------------

_COMMON = dict(
    deadline=None,  # a noisy 2-core machine: timing is not what is tested
    database=None,  # no .hypothesis/ directory in the repository; failures print their blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)


def property_test(default: int, slow: int, **strategies):
    """Register ``fn`` as a hypothesis test with ``default`` examples (derandomized), and a
    ``<name>_slow`` twin in this module with ``slow`` random examples under ``@pytest.mark.slow``.
    """
    def register(fn):
        long = settings(max_examples=slow, derandomize=False, **_COMMON)(given(**strategies)(fn))
        globals()[fn.__name__ + "_slow"] = pytest.mark.slow(long)
        return settings(max_examples=default, derandomize=True, **_COMMON)(given(**strategies)(fn))
    return register


@pytest.fixture(autouse=True)
def _slow_twins_only_when_selected(request):
    # `pytest -m slow` (or any -m expression that keeps them) runs the slow twins; a plain run,
    # which would otherwise take minutes, skips them.
    if request.node.get_closest_marker("slow") and not request.config.getoption("markexpr"):
        pytest.skip("slow property run: select it with -m slow")


# ---- strategies -----------------------------------------------------------------------------

MODERATE = st.floats(-100, 100, width=32)  # finite; includes 0.0, -0.0 and subnormals
SPECIAL = st.floats(width=32)  # anything, NaN and +-inf included


def shapes(min_dims: int = 0):
    """Shapes up to 6-d with 0- and 1-sized axes; the longer 1-d and 2-d ones cross the SIMD
    widths (8 and 16 floats) and their tails."""
    return st.one_of(
        hnp.array_shapes(min_dims=min_dims, max_dims=6, min_side=0, max_side=3),
        hnp.array_shapes(min_dims=max(min_dims, 1), max_dims=2, min_side=0, max_side=40),
        hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=300),
    )


SHAPES = shapes()


@st.composite
def values(draw, dtype, shape, elements):
    """A C-contiguous array: hypothesis' own (few distinct values, easy to shrink), or a pool of
    up to 16 drawn values scattered at random positions (many distinct values, any size)."""
    if draw(st.booleans()):
        return draw(hnp.arrays(dtype, shape, elements=elements))
    pool = draw(st.lists(hnp.from_dtype(np.dtype(dtype)) if elements is None else elements,
                         min_size=1, max_size=16))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.choice(np.array(pool, dtype=dtype), size=shape)


@st.composite
def layouts(draw, shape, elements=MODERATE, dtype=F32):
    """An array of ``shape``, usually a view into a larger one: axes permuted (a transpose),
    stepped (``x[::2]``), offset, and reversed (negative strides). One time in eight it is a
    plain C-contiguous array, and one in eight a contiguous one at a misaligned address."""
    shape = tuple(shape)
    ndim = len(shape)
    kind = draw(st.sampled_from(["contiguous", "misaligned"] + ["view"] * 6) if ndim
                else st.sampled_from(["contiguous", "misaligned"]))
    if kind == "contiguous":
        return draw(values(dtype, shape, elements))
    if kind == "misaligned":
        # C-contiguous, but starting one byte past an aligned address (a float32 array read from
        # a packed file or buffer): its strides are fine, its data pointer is not.
        x = draw(values(dtype, shape, elements))
        out = misaligned_empty(shape, x.dtype)
        out[...] = x
        return out
    perm = draw(st.permutations(range(ndim)))
    steps, offsets, size = [], [], 1
    for n in shape:
        # Keep the base below ~20k elements: step only while there is room.
        step = draw(st.sampled_from([1, 2, 3]) if size * 3 * (n + 1) <= 20_000 else st.just(1))
        offset = draw(st.integers(0, 1) if size * (step * n + 1) <= 20_000 else st.just(0))
        steps.append(step)
        offsets.append(offset)
        size *= step * n + offset
    flips = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
    # view = base.transpose(perm)[slices]: the transposed axis i has the base's axis perm[i].
    base_shape = [0] * ndim
    for i in range(ndim):
        base_shape[perm[i]] = offsets[i] + steps[i] * shape[i]
    base = draw(values(dtype, tuple(base_shape), elements))
    view = base.transpose(perm)[tuple(slice(o, o + s * n, s)
                                      for o, s, n in zip(offsets, steps, shape))]
    view = np.flip(view, axis=[i for i in range(ndim) if flips[i]]) if any(flips) else view
    assert view.shape == shape
    return view


def f32_arrays(shape, elements=MODERATE):
    return layouts(shape, elements)


@st.composite
def axis_args(draw, ndim: int):
    """None, an int, or a tuple of distinct axes in any order, each possibly negative; () too."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


# ---- numpy references and comparisons -------------------------------------------------------

def f64(x) -> np.ndarray:
    return np.asarray(x, np.float64)


def check_result(got, shape) -> np.ndarray:
    """Results are float32 numpy values of the expected shape."""
    assert isinstance(got, (np.ndarray, np.float32)), type(got)
    assert got.dtype == np.float32, got.dtype
    assert np.shape(got) == tuple(shape), (np.shape(got), shape)
    return np.asarray(got, np.float64)


def assert_within(got, want, tol):
    """|got - want| <= tol elementwise, with NaN and +-inf required at the same places."""
    got, want = f64(got), f64(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(np.isnan(got), np.isnan(want)), ("NaN positions", got, want)
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf]), ("inf positions", got, want)
    finite = np.isfinite(want)
    assert np.all(np.isfinite(got[finite])), ("non-finite result", got, want)
    err = np.abs(got[finite] - want[finite])
    tol = np.broadcast_to(tol, want.shape)[finite]
    bad = err > tol
    assert not bad.any(), (f"{bad.sum()} of {bad.size} off; worst err {err.max():.3g} "
                           f"(tol there {tol[np.argmax(err - tol)]:.3g})")


def assert_ulps(got, want, ulps):
    """Within ``ulps`` float32 ulps of the float64 value rounded to float32 (which is inf where
    the value overflows float32, as exp(89) does)."""
    with np.errstate(all="ignore"):
        want32 = f64(want).astype(F32)
        spacing = np.spacing(np.abs(want32)).astype(np.float64)
    assert_within(got, want32, ulps * np.where(np.isfinite(spacing), spacing, 0))


def assert_identical(got, want):
    """Same dtype, shape and values (NaN == NaN): the property "converting first is the same"
    and "a view gives what the contiguous copy gives"."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape,
                                                                 want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


def misaligned_empty(shape, dtype=F32) -> np.ndarray:
    """A C-contiguous writeable array whose data starts one byte past an aligned address."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(math.prod(shape) * itemsize + 1, np.uint8)[1:]
    return raw.view(dtype).reshape(shape)


def contiguous(x) -> np.ndarray:
    """A C-contiguous copy of the same shape (np.ascontiguousarray makes a 0-d array 1-d)."""
    return np.array(x, order="C")


def sigmoid64(x):
    x = f64(x)
    with np.errstate(all="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


UNARY = {  # name -> float64 reference
    "relu": lambda x: np.maximum(x, 0), "sigmoid": sigmoid64, "tanh": np.tanh,
    "exp": np.exp, "log": np.log,
}
ARITHMETIC = {  # correctly rounded IEEE operations
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
}
GRADS = {  # name -> float64 reference of the backward formula
    "relu_grad": lambda g, x: np.where(x > 0, g, 0.0),
    "sigmoid_grad": lambda g, y: g * y * (1 - y),
    "tanh_grad": lambda g, y: g * (1 - y * y),
}
BINARY = {**ARITHMETIC, **GRADS}


def check_unary(name, x, got):
    """``got = ops.<name>(x)`` against float64 numpy on the float32 input."""
    x64 = f64(np.asarray(x, F32))
    with np.errstate(all="ignore"):
        want = UNARY[name](x64)
    check_result(got, x64.shape)
    if name == "relu":
        assert_within(got, want, 0)  # exact
    else:
        # A vectorised exp/log/tanh/sigmoid may be a few ulp off the correctly rounded value.
        assert_ulps(got, want, 4)


def check_binary(name, a, b, got):
    a64, b64 = f64(np.asarray(a, F32)), f64(np.asarray(b, F32))
    with np.errstate(all="ignore"):
        want = BINARY[name](a64, b64)
    check_result(got, want.shape)
    if name in ARITHMETIC or name == "relu_grad":
        # One IEEE operation on float32 values: the float64 result rounded to float32 is the
        # correctly rounded float32 one (53 >= 2 * 24 + 2 bits), so the kernel must match it.
        with np.errstate(all="ignore"):
            assert_within(got, want.astype(F32), 0)
    else:
        # Two or three roundings of terms of size |g| * (1 + |y|)^2.
        g, y = np.broadcast_arrays(a64, b64)
        with np.errstate(all="ignore"):
            assert_within(got, want, 4 * U * np.abs(g) * (1 + np.abs(y)) ** 2 + 1e-44)


# ---- element-wise ops -----------------------------------------------------------------------

@property_test(default=40, slow=1000, name=st.sampled_from(sorted(UNARY)), data=st.data())
def test_unary_matches_numpy_for_any_shape_and_layout(name, data):
    shape = data.draw(SHAPES, label="shape")
    x = data.draw(f32_arrays(shape), label="x")
    got = getattr(ops, name)(x)
    check_unary(name, x, got)
    # A view gives what its contiguous copy gives. Only to within the ulps above for exp, log,
    # sigmoid and tanh: the vector kernels may round differently from the scalar code that
    # handles strided elements and the tails of contiguous ones.
    again = getattr(ops, name)(contiguous(x))
    if name == "relu":
        assert_identical(got, again)
    else:
        check_unary(name, x, again)


@property_test(default=50, slow=1200, name=st.sampled_from(sorted(BINARY)),
               shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6,
                                                        min_side=0, max_side=4),
               data=st.data())
def test_binary_broadcasting_matches_numpy(name, shapes, data):
    a = data.draw(f32_arrays(shapes.input_shapes[0]), label="a")
    b = data.draw(f32_arrays(shapes.input_shapes[1]), label="b")
    got = getattr(ops, name)(a, b)
    assert got.shape == shapes.result_shape
    check_binary(name, a, b, got)
    again = getattr(ops, name)(contiguous(a), contiguous(b))
    if name in ARITHMETIC or name == "relu_grad":
        assert_identical(got, again)
    else:
        check_binary(name, a, b, again)


@property_test(default=25, slow=700, name=st.sampled_from(sorted(BINARY)), data=st.data())
def test_binary_out_may_alias_an_input(name, data):
    # out is x itself while the other operand is x again, x reversed, x transposed or a row of x
    # broadcast over it: the result must be what numpy gives with separate arrays.
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9),
                      label="shape")
    x = data.draw(hnp.arrays(F32, shape, elements=MODERATE), label="x")
    kind = data.draw(st.sampled_from(["same", "reversed", "transposed", "row"]), label="kind")
    if kind == "transposed" and len(set(shape)) != 1:
        kind = "reversed"
    other = {"same": lambda: x, "reversed": lambda: x[::-1],
             "transposed": lambda: x.T, "row": lambda: x[0]}[kind]()
    x_first = data.draw(st.booleans(), label="x_first")
    a, b = (x, other) if x_first else (other, x)
    a0, b0 = a.copy(), b.copy()
    want = getattr(ops, name)(a0, b0)
    assert getattr(ops, name)(a, b, out=x) is x
    assert_identical(x, want)


@property_test(default=15, slow=400, name=st.sampled_from(sorted(UNARY)), data=st.data())
def test_unary_out_may_alias_the_input(name, data):
    # In place (out is x) and shifted by one element (out = buf[1:], x = buf[:-1]).
    n = data.draw(st.integers(1, 200), label="n")
    buf = data.draw(hnp.arrays(F32, n + 1, elements=MODERATE), label="buf")
    want = getattr(ops, name)(buf[:-1].copy())
    x = buf[:-1].copy()
    assert getattr(ops, name)(x, out=x) is x
    assert_identical(x, want)
    out = buf[1:]
    assert getattr(ops, name)(buf[:-1], out=out) is out
    assert_identical(out, want)


@property_test(default=6, slow=150, name=st.sampled_from(sorted(UNARY) + sorted(BINARY)),
               rows=st.integers(1, 5), cols=st.integers(2**17 // 5, 2**17),
               seed=st.integers(0, 2**32 - 1))
def test_large_arrays_split_over_threads_match_numpy(name, rows, cols, seed):
    # Above ELEMENTWISE_PARALLEL_MIN (2**17) elements the kernels split the work in chunks over
    # threads; a broadcast row and a reversed view cross the chunk edges.
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 5).astype(F32)[:, ::-1]
    if name in UNARY:
        check_unary(name, x, getattr(ops, name)(x))
    else:
        row = (rng.standard_normal(cols) * 5 + 0.5).astype(F32)
        check_binary(name, x, row, getattr(ops, name)(x, row))
    assert_within(ops.sum(x, axis=1), f64(x).sum(axis=1), 2 * EPS * np.abs(f64(x)).sum(axis=1))


# ---- reductions -----------------------------------------------------------------------------

@property_test(default=40, slow=1000, data=st.data(), keepdims=st.booleans())
def test_sum_and_mean_over_random_axes(data, keepdims):
    shape = data.draw(SHAPES, label="shape")
    x = data.draw(f32_arrays(shape), label="x")
    axis = data.draw(axis_args(len(shape)), label="axis")
    x64 = f64(x)
    want = x64.sum(axis=axis, keepdims=keepdims)  # a sum over nothing is 0, as in numpy
    scale = np.abs(x64).sum(axis=axis, keepdims=keepdims)
    got = ops.sum(x, axis=axis, keepdims=keepdims)
    check_result(got, want.shape)
    # Accumulated in float64, then rounded once: within an ulp of the sum of magnitudes.
    assert_within(got, want, 2 * EPS * scale + 1e-44)
    if got.ndim == 0:
        assert isinstance(got, np.float32)  # a full reduction is a numpy scalar, like np.sum
    assert_identical(got, ops.sum(contiguous(x), axis=axis, keepdims=keepdims))

    count = math.prod(shape[d] for d in _axes(axis, len(shape)))
    with np.errstate(all="ignore"):
        want_mean = want / count if count else np.full_like(want, np.nan)  # empty: NaN
    got_mean = ops.mean(x, axis=axis, keepdims=keepdims)
    check_result(got_mean, want.shape)
    with np.errstate(all="ignore"):
        assert_within(got_mean, want_mean, 4 * EPS * scale / max(count, 1) + 1e-44)


def _axes(axis, ndim):
    """The set of (non-negative) axes an axis argument names."""
    if axis is None:
        return set(range(ndim))
    return {a % ndim for a in ((axis,) if isinstance(axis, int) else axis)}


@property_test(default=30, slow=800, data=st.data())
def test_argmax_matches_numpy_and_refuses_empty_axes(data):
    # Few distinct values, so ties are common: the first maximum must win, as in numpy.
    shape = data.draw(SHAPES, label="shape")
    x = data.draw(f32_arrays(shape, st.sampled_from([-1.0, 0.0, 2.5])), label="x")
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))
                     if shape else st.none(), label="axis")
    try:
        want = np.argmax(x, axis=axis)
    except ValueError:  # an empty axis (or an empty array with axis=None)
        with pytest.raises(ValueError, match="empty"):
            ops.argmax(x, axis=axis)
        return
    got = ops.argmax(x, axis=axis)
    assert np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == np.int64
    np.testing.assert_array_equal(got, want)


# ---- matmul ---------------------------------------------------------------------------------

# Around the micro-kernel tiles (6 x 16/32), the small-N kernel (N <= 12, K >= 32) and the cache
# blocks (MC 144, KC 256 or 384 with AVX-512).
DIMS = st.one_of(st.integers(0, 20),
                 st.sampled_from([31, 32, 33, 64, 65, 127, 129, 145, 257, 385]))


def gemm_tol(a64, b64, alpha, beta=0.0, c64=None):
    """Error bound of a float32 GEMM: K + 4 roundings of the sum of the products' magnitudes."""
    k = a64.shape[-1]
    mag = abs(alpha) * np.dot(np.abs(a64), np.abs(b64))
    if c64 is not None:
        mag = mag + abs(beta) * np.abs(c64)
    return (k + 4) * EPS * mag + 1e-38


@property_test(default=40, slow=1000, m=DIMS, k=DIMS, n=DIMS, trans_a=st.booleans(),
               trans_b=st.booleans(), data=st.data())
def test_matmul_2d_flags_alpha_beta_and_out(m, k, n, trans_a, trans_b, data):
    # Values from a small set keep large operands cheap to draw; layouts still vary.
    values = st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0])
    a = data.draw(layouts((k, m) if trans_a else (m, k), values), label="a")
    b = data.draw(layouts((n, k) if trans_b else (k, n), values), label="b")
    alpha = data.draw(st.one_of(st.just(1.0), st.floats(-2, 2)), label="alpha")
    mode = data.draw(st.sampled_from(["none", "out", "beta"]), label="mode")
    a64 = f64(a).T if trans_a else f64(a)
    b64 = f64(b).T if trans_b else f64(b)
    want = alpha * (a64 @ b64)
    if mode == "none":
        got = ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha)
        check_result(got, (m, n))
        assert_within(got, want, gemm_tol(a64, b64, alpha))
    elif mode == "out":
        # beta = 0: out's old contents, even NaN, are not read (BLAS semantics).
        out = np.full((m, n), np.nan, F32)
        got = ops.matmul(a, b, out=out, trans_a=trans_a, trans_b=trans_b, alpha=alpha)
        assert got is out
        assert_within(out, want, gemm_tol(a64, b64, alpha))
    else:
        beta = data.draw(st.sampled_from([1.0, -1.0, 0.5]) | st.floats(-2, 2), label="beta")
        c = data.draw(hnp.arrays(F32, (m, n), elements=st.floats(-4, 4, width=32)), label="c")
        out = c.copy()
        if beta != 0:
            with pytest.raises(ValueError, match="beta != 0 needs out"):
                ops.matmul(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        assert ops.matmul(a, b, out=out, trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                          beta=beta) is out
        assert_within(out, want + beta * f64(c), gemm_tol(a64, b64, alpha, beta, f64(c)))
    # The views were read in place correctly: same as their contiguous copies.
    if mode == "none":
        assert_identical(got, ops.matmul(contiguous(a), contiguous(b),
                                         trans_a=trans_a, trans_b=trans_b, alpha=alpha))


@property_test(default=30, slow=700, data=st.data())
def test_matmul_nd_a_follows_np_dot(data):
    # (p, q, ..., d) . (d, e) -> (p, q, ..., e) and (..., d) . (d,) -> (...), as np.dot.
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
                     label="lead")
    d = data.draw(st.integers(0, 12), label="d")
    b_shape = data.draw(st.sampled_from([(d,), (d, data.draw(st.integers(0, 12), label="e"))]),
                        label="b_shape")
    a = data.draw(f32_arrays(lead + (d,)), label="a")
    b = data.draw(f32_arrays(b_shape), label="b")
    alpha = data.draw(st.one_of(st.just(1.0), st.floats(-2, 2)), label="alpha")
    want = alpha * np.dot(f64(a), f64(b))
    got = ops.matmul(a, b, alpha=alpha)
    check_result(got, np.shape(want))
    assert_within(got, want, gemm_tol(f64(a), f64(b), alpha))
    assert_identical(got, ops.matmul(contiguous(a), contiguous(b), alpha=alpha))


@property_test(default=15, slow=400, m=st.integers(1, 6), k=st.integers(1, 6),
               n=st.integers(1, 6), data=st.data())
def test_matmul_shape_errors(m, k, n, data):
    a = np.ones((m, k), F32)
    k2 = data.draw(st.integers(0, 8).filter(lambda v: v != k), label="k2")
    with pytest.raises(ValueError, match=r"not aligned"):
        ops.matmul(a, np.ones((k2, n), F32))
    with pytest.raises(ValueError, match=r"not aligned.*trans_b=True"):
        ops.matmul(a, np.ones((n, k2), F32), trans_b=True)
    with pytest.raises(ValueError, match="b must be 1-d or 2-d"):
        ops.matmul(a, np.ones((k, n, 2), F32))
    with pytest.raises(ValueError, match="trans_a/trans_b need 2-d"):
        ops.matmul(np.ones((2, m, k), F32), np.ones((k, n), F32), trans_a=True)


# ---- softmax and cross-entropy --------------------------------------------------------------

def softmax64(x, axis=-1):
    x = f64(x)
    with np.errstate(all="ignore"):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


def softmax_tol(x, axis):
    """Error bound of a float32 softmax, relative to each output p: x - max(x) rounds to within
    U * 2 max|x| (absolute), which exp turns into a relative error; exp itself, the division and
    the sum of k terms (<= k roundings relative to the sum) add the rest."""
    finite = np.where(np.isfinite(x), np.abs(f64(x)), 0)
    k = x.shape[axis]
    p = np.nan_to_num(softmax64(x, axis))
    return (2 * finite.max(initial=0) + k + 8) * U * p + 1e-45


@property_test(default=30, slow=800, data=st.data())
def test_softmax_matches_numpy_on_any_axis(data):
    shape = data.draw(shapes(min_dims=1), label="shape")
    x = data.draw(f32_arrays(shape, st.floats(-30, 30, width=32)), label="x")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    got = ops.softmax(x, axis=axis)
    check_result(got, shape)
    assert got.flags.c_contiguous
    if x.size:
        assert_within(got, softmax64(x, axis), softmax_tol(x, axis))
    assert_identical(got, ops.softmax(contiguous(x), axis=axis))


def xent64(z, t):
    """Mean cross-entropy of probability rows t against softmax(z), and its gradient."""
    z, t = f64(z), f64(t)
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    loss = float(np.sum(t * (lse - z)) / n) if n else math.nan
    grad = (softmax64(z) * t.sum(axis=1, keepdims=True) - t) / max(n, 1)
    return loss, grad


@property_test(default=30, slow=800, n=st.one_of(st.integers(0, 12), st.just(129)),
               k=st.one_of(st.integers(1, 12), st.sampled_from([33, 1000])), data=st.data())
def test_softmax_cross_entropy_matches_numpy(n, k, data):
    z = data.draw(f32_arrays((n, k), st.floats(-30, 30, width=32)), label="logits")
    kind = data.draw(st.sampled_from(["int64", "int32", "uint8", "float", "probabilities"]),
                     label="labels")
    if kind == "probabilities":
        w = data.draw(hnp.arrays(F32, (n, k), elements=st.floats(0, 1, width=32)), label="w")
        labels = w / np.maximum(w.sum(axis=1, keepdims=True), F32(1e-30))
        t = labels
    else:
        top = min(k, 256) if kind == "uint8" else k
        idx = data.draw(layouts((n,), st.integers(0, top - 1), np.int64), label="idx")
        labels = idx if kind == "int64" else idx.astype({"int32": np.int32, "uint8": np.uint8,
                                                          "float": np.float64}[kind])
        t = np.eye(k)[idx] if n else np.zeros((0, k))
    loss, grad = ops.softmax_cross_entropy(z, labels)
    want_loss, want_grad = xent64(z, t)
    assert isinstance(loss, float)
    check_result(grad, (n, k))
    # float32 terms of size max|z| (z - max z, log-sum-exp) and a sum of k exps (k roundings):
    # the loss and n * grad are within U * (4 max|z| + 2k + 16) of the float64 values.
    bound = U * (4 * float(np.abs(f64(z)).max(initial=0)) + 2 * k + 16)
    if n == 0:
        assert math.isnan(loss)  # documented: the mean of nothing
    else:
        assert abs(loss - want_loss) <= bound * (1 + abs(want_loss)), (loss, want_loss)
    assert_within(grad, want_grad, bound / max(n, 1))
    loss2, grad2 = ops.softmax_cross_entropy(contiguous(z), labels)
    assert loss2 == loss or (math.isnan(loss) and math.isnan(loss2))
    assert_identical(grad2, grad)


@property_test(default=20, slow=500, n=st.integers(1, 20), k=st.integers(1, 20), data=st.data())
def test_softmax_cross_entropy_refuses_bad_labels(n, k, data):
    labels = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)), label="labels")
    first = data.draw(st.integers(0, n - 1), label="first")
    bad = data.draw(st.one_of(st.integers(-(2**40), -1), st.integers(k, 2**40)), label="bad")
    labels[first] = bad
    labels[first + 1:] = data.draw(st.sampled_from([0, k, -1]), label="rest")  # later ones too
    z = np.zeros((n, k), F32)
    with pytest.raises(ValueError, match=rf"label {bad} at index {first} is out of range "
                                         rf"\[0, {k}\)"):
        ops.softmax_cross_entropy(z, labels)
    with pytest.raises(ValueError, match="integral class indices"):
        ops.softmax_cross_entropy(z, np.full(n, 0.5))
    with pytest.raises(ValueError, match="labels must have shape"):
        ops.softmax_cross_entropy(z, np.zeros(n + 1, np.int64))


# ---- optimizer updates: Keras' formulas in float64, with an error bound ---------------------

class Bound:
    """A float64 value and a bound on the error of the same formula evaluated in float32.

    Each operation rounds once (<= U * |result|, plus 2**-150 near underflow) and propagates
    its operands' errors to first order. Comparing a float32 kernel with ``val`` within a
    multiple of ``err`` is then as strict as float32 allows for *these* inputs: loose only where
    the formula cancels (Adam's v with a tiny beta_2, say), tight elsewhere.
    """

    __slots__ = ("val", "err")

    def __init__(self, val, err=0.0):
        self.val = f64(val)
        self.err = f64(err)

    @classmethod
    def hyper(cls, x: float) -> "Bound":
        """A Python float hyper-parameter as the kernel sees it: rounded to float32."""
        return cls(x, U * abs(x))

    @classmethod
    def one_minus(cls, x: float) -> "Bound":
        """``1 - x`` for a hyper-parameter x: rounded once if computed in float64, or off by
        U more if computed in float32 from a rounded x."""
        return cls(1 - x, U * (1 + abs(1 - x)))

    @staticmethod
    def _of(x) -> "Bound":
        return x if isinstance(x, Bound) else Bound(x)  # float32 data: exact

    @staticmethod
    def _rounded(val, err) -> "Bound":
        return Bound(val, err + U * np.abs(val) + 2.0**-150)

    def __add__(self, other):
        o = Bound._of(other)
        return Bound._rounded(self.val + o.val, self.err + o.err)

    def __sub__(self, other):
        o = Bound._of(other)
        return Bound._rounded(self.val - o.val, self.err + o.err)

    def __mul__(self, other):
        o = Bound._of(other)
        return Bound._rounded(self.val * o.val, np.abs(self.val) * o.err
                              + np.abs(o.val) * self.err + self.err * o.err)

    def __truediv__(self, other):
        o = Bound._of(other)
        q = self.val / o.val
        room = np.abs(o.val) - o.err
        # A denominator that may be 0 within its own error bounds nothing (Adam's v + (g*g - v)
        # with beta_2 = 0 cancels in float32, as in Keras): an infinite bound there.
        with np.errstate(all="ignore"):
            err = np.where(room > 0, (self.err + np.abs(q) * o.err) / room, np.inf)
        return Bound._rounded(q, err)

    def sqrt(self):
        root = np.sqrt(self.val)
        low = np.sqrt(np.maximum(self.val - self.err, 0))
        with np.errstate(all="ignore"):
            err = np.where(root + low > 0, self.err / (root + low), np.sqrt(self.err))
        return Bound._rounded(root, err)

    __radd__ = __add__
    __rmul__ = __mul__


def keras_step(name, w, g, s, t, h):
    """One step of Keras 3's update rule (keras/src/optimizers), on Bound values.

    Returns the new param and the new state slots (same keys as ``s``).
    """
    lr = Bound.hyper(h["learning_rate"])
    if name == "sgd":
        if h["momentum"] == 0:
            return w - g * lr, {}
        mom = Bound.hyper(h["momentum"])
        v = s["velocity"] * mom - g * lr
        w = (w + (v * mom - g * lr)) if h["nesterov"] else (w + v)
        return w, {"velocity": v}
    if name == "rmsprop":
        v = Bound.hyper(h["rho"]) * s["velocity"] + Bound.one_minus(h["rho"]) * (g * g)
        increment = (lr * g) / (v + Bound.hyper(h["epsilon"])).sqrt()
        if h["momentum"] > 0:
            buf = Bound.hyper(h["momentum"]) * s["momentum_buffer"] + increment
            return w - buf, {"velocity": v, "momentum_buffer": buf}
        return w - increment, {"velocity": v}
    if name == "adagrad":
        acc = s["accumulator"] + g * g
        return w - (lr * g) / (acc + Bound.hyper(h["epsilon"])).sqrt(), {"accumulator": acc}
    # adam: the bias correction folded into alpha, in float64, rounded once.
    b1, b2 = h["beta_1"], h["beta_2"]
    alpha = h["learning_rate"] * math.sqrt(1 - b2**t) / (1 - b1**t)
    m = s["m"] + (g - s["m"]) * Bound.one_minus(b1)
    v = s["v"] + (g * g - s["v"]) * Bound.one_minus(b2)
    w = w - (m * Bound.hyper(alpha)) / (v.sqrt() + Bound.hyper(h["epsilon"]))
    return w, {"m": m, "v": v}


def fast_step(name, w, g, s, t, h):
    """The same step with fastnn, in place on float32 arrays."""
    if name == "sgd":
        return ops.sgd_update(w, g, s.get("velocity"), learning_rate=h["learning_rate"],
                              momentum=h["momentum"], nesterov=h["nesterov"])
    if name == "rmsprop":
        return ops.rmsprop_update(w, g, s["velocity"], s.get("momentum_buffer"),
                                  learning_rate=h["learning_rate"], rho=h["rho"],
                                  momentum=h["momentum"], epsilon=h["epsilon"])
    if name == "adagrad":
        return ops.adagrad_update(w, g, s["accumulator"], learning_rate=h["learning_rate"],
                                  epsilon=h["epsilon"])
    return ops.adam_update(w, g, s["m"], s["v"], step=t, learning_rate=h["learning_rate"],
                           beta_1=h["beta_1"], beta_2=h["beta_2"], epsilon=h["epsilon"])


UNIT = st.floats(0, 1)
UNIT_OPEN = st.floats(0, 1, exclude_max=True)
EPSILON = st.floats(1e-8, 1e-3)  # > 0: with epsilon 0, a zero gradient on zero state is 0 / 0
HYPER = {
    "sgd": st.fixed_dictionaries({"learning_rate": UNIT, "nesterov": st.booleans(),
                                  "momentum": st.one_of(st.just(0.0), UNIT)}),
    "rmsprop": st.fixed_dictionaries({"learning_rate": UNIT, "rho": UNIT_OPEN,
                                      "momentum": st.one_of(st.just(0.0), UNIT),
                                      "epsilon": EPSILON}),
    "adagrad": st.fixed_dictionaries({"learning_rate": UNIT, "epsilon": EPSILON}),
    "adam": st.fixed_dictionaries({"learning_rate": UNIT, "beta_1": UNIT_OPEN,
                                   "beta_2": UNIT_OPEN, "epsilon": EPSILON}),
}
SLOTS = {"sgd": ("velocity",), "rmsprop": ("velocity", "momentum_buffer"),
         "adagrad": ("accumulator",), "adam": ("m", "v")}
NON_NEGATIVE = {("rmsprop", "velocity"), ("adagrad", "accumulator"), ("adam", "v")}

OPT_SHAPES = st.one_of(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
                       st.integers(0, 300).map(lambda n: (n,)))


@property_test(default=40, slow=1200, name=st.sampled_from(sorted(HYPER)), shape=OPT_SHAPES,
               seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 3),
               first_step=st.one_of(st.just(1), st.integers(1, 10**6)),
               grad_scale=st.sampled_from([1e-3, 1.0, 30.0]), data=st.data())
def test_optimizer_step_matches_keras_in_float64(name, shape, seed, steps, first_step,
                                                grad_scale, data):
    h = data.draw(HYPER[name], label="hyper")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(F32)
    state = {}
    for slot in SLOTS[name]:
        x = rng.standard_normal(shape) * 0.1
        state[slot] = (np.abs(x) if (name, slot) in NON_NEGATIVE else x).astype(F32)
    for t in range(first_step, first_step + steps):
        g = (rng.standard_normal(shape) * grad_scale).astype(F32)
        # Each step starts the reference from fastnn's float32 state, so the bound is per step.
        want_w, want_s = keras_step(name, Bound(w), Bound(g),
                                    {k: Bound(v) for k, v in state.items()}, t, h)
        used = set(want_s)  # slots the rule does not use must be left alone
        before = {k: v.copy() for k, v in state.items() if k not in used}
        assert fast_step(name, w, g, state, t, h) is None
        assert_within(w, want_w.val, 2 * want_w.err + 1e-38)
        for k in used:
            assert_within(state[k], want_s[k].val, 2 * want_s[k].err + 1e-38)
        for k, v in before.items():
            assert_identical(state[k], v)


@property_test(default=10, slow=300, name=st.sampled_from(sorted(HYPER)), n=st.integers(1, 40),
               data=st.data())
def test_optimizer_buffers_are_checked_before_any_update(name, n, data):
    # param and the state slots are written in place, so they cannot be converted: a
    # misaligned, strided, read-only or wrongly shaped one is refused, and nothing is updated.
    slot = data.draw(st.sampled_from(("param",) + SLOTS[name]), label="slot")
    # (A param of another shape is refused too, as a grad of the wrong shape.)
    bad = data.draw(st.sampled_from(["misaligned", "strided", "read-only"]
                                    + ([] if slot == "param" else ["shape"])), label="bad")
    h = data.draw(HYPER[name], label="hyper")
    h = {**h, "momentum": 0.5} if "momentum" in h else h  # every slot in use
    w = np.ones(n, F32)
    s = {k: np.full(n, 0.5, F32) for k in SLOTS[name]}
    arrays = {"param": w, **s}
    wrong = {"misaligned": lambda: misaligned_empty((n,)), "read-only": lambda: np.ones(n, F32),
             "strided": lambda: np.ones(2 * n, F32)[::2],
             "shape": lambda: np.ones(n + 1, F32)}[bad]()
    wrong[...] = arrays[slot][0]
    if bad == "read-only":
        wrong.flags.writeable = False
    if bad == "strided" and n == 1:
        return  # one element: every layout is C-contiguous
    message = {"misaligned": "must be aligned", "read-only": "is read-only",
               "strided": "must be C-contiguous", "shape": "has shape"}[bad]
    arrays[slot] = wrong
    w, s = arrays.pop("param"), arrays
    with pytest.raises(ValueError, match=f"{slot} {message}"):
        fast_step(name, w, np.ones(n, F32), s, 1, h)
    for k, v in {"param": w, **s}.items():
        np.testing.assert_array_equal(v, 1.0 if k == "param" else 0.5, err_msg=k)


# ---- every op: other dtypes are converted, non-real dtypes refused --------------------------

def _opt_call(name):
    """An optimizer step on fixed float32 state, returning everything it wrote."""
    def call(g):
        rng = np.random.default_rng(0)
        w = rng.standard_normal(np.shape(g)).astype(F32)
        s = {k: np.abs(rng.standard_normal(np.shape(g))).astype(F32) for k in SLOTS[name]}
        h = {"sgd": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
             "rmsprop": {"learning_rate": 0.1, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-7},
             "adagrad": {"learning_rate": 0.1, "epsilon": 1e-7},
             "adam": {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999,
                      "epsilon": 1e-7}}[name]
        fast_step(name, w, g, s, 3, h)
        return (w, *s.values())
    return call


# name -> (shapes of the array arguments for a drawn shape s of >= 1 dims, the call)
EVERY_OP = {
    **{n: (lambda s: [s], (lambda n: lambda x: getattr(ops, n)(x))(n)) for n in UNARY},
    **{n: (lambda s: [s, s[1:]], (lambda n: lambda a, b: getattr(ops, n)(a, b))(n))
       for n in BINARY},
    "matmul": (lambda s: [s, (s[-1], 3)], lambda a, b: ops.matmul(a, b)),
    # a stored (k, m), b stored (n, k): a.T @ b.T.
    "matmul_trans": (lambda s: [(s[0], s[-1]), (2, s[0])],
                     lambda a, b: ops.matmul(a, b, trans_a=True, trans_b=True)),
    "sum": (lambda s: [s], lambda x: ops.sum(x, axis=-1)),
    "mean": (lambda s: [s], lambda x: ops.mean(x, axis=0, keepdims=True)),
    "argmax": (lambda s: [s], lambda x: ops.argmax(x, axis=-1)),
    "reshape": (lambda s: [s], lambda x: ops.reshape(x, (-1,))),
    "transpose": (lambda s: [s], lambda x: ops.transpose(x)),
    "softmax": (lambda s: [s], lambda x: ops.softmax(x, axis=0)),
    "softmax_cross_entropy": (lambda s: [(s[0], 3)],
                              lambda z: ops.softmax_cross_entropy(z, np.zeros(len(z), int))),
    **{f"{n}_update": (lambda s: [s], _opt_call(n)) for n in HYPER},
}

OTHER_DTYPES = {  # dtype -> its elements (moderate floats; ints and bools over their range)
    np.dtype(np.float64): st.floats(-100, 100),
    np.dtype(np.float16): st.floats(-100, 100, width=16),
    np.dtype(">f4"): MODERATE,  # float32, but byte-swapped: not native, so converted too
    np.dtype(np.int8): None, np.dtype(np.int32): st.integers(-10**6, 10**6),
    np.dtype(np.int64): st.integers(-10**6, 10**6), np.dtype(np.uint8): None,
    np.dtype(np.bool_): None,
}


def outcome(call, *args):
    """The results of ``call`` as a tuple of arrays, or the exception it raised."""
    try:
        res = call(*args)
    except (ValueError, TypeError) as e:
        return type(e), str(e)
    return tuple(np.asarray(r) for r in (res if isinstance(res, tuple) else (res,)))


@property_test(default=50, slow=1200, op=st.sampled_from(sorted(EVERY_OP)),
               dtype=st.sampled_from(sorted(OTHER_DTYPES, key=str)), data=st.data())
def test_every_op_converts_other_dtypes_layouts_and_lists(op, dtype, data):
    # The documented contract: any real dtype, any layout, or a nested list, gives the result of
    # converting to float32 first.
    shape_of, call = EVERY_OP[op]
    shapes = shape_of(data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1,
                                                 max_side=5), label="shape"))
    args = [data.draw(layouts(s, OTHER_DTYPES[dtype], dtype), label=f"arg{i}")
            for i, s in enumerate(shapes)]
    which = data.draw(st.sampled_from(["all", "first", "lists"]), label="which")
    if which == "first":  # mixed: only the first operand has the other dtype
        args[1:] = [a.astype(F32) for a in args[1:]]
    as_f32 = [np.array(a, dtype=F32, order="C") for a in args]
    if which == "lists":
        args = [a.tolist() for a in args]
    got, want = outcome(call, *args), outcome(call, *as_f32)
    assert type(got) is type(want), (got, want)
    if isinstance(want, tuple) and want and isinstance(want[0], np.ndarray):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_identical(g, w)
    else:
        assert got == want


BAD_DTYPES = ["object", "complex64", "complex128", "str"]


def _bad_array(kind, shape, rng):
    x = rng.standard_normal(shape)
    if kind == "object":
        return x.astype(object)  # Python floats in an object array: still refused
    if kind == "str":
        return x.astype(str)
    return (x + 1j).astype(kind)


@property_test(default=30, slow=800, op=st.sampled_from(sorted(EVERY_OP)),
               kind=st.sampled_from(BAD_DTYPES), shape=hnp.array_shapes(min_dims=1, max_dims=3,
                                                                         max_side=4),
               position=st.integers(0, 1), seed=st.integers(0, 2**32 - 1))
def test_every_op_refuses_non_real_dtypes(op, kind, shape, position, seed):
    shape_of, call = EVERY_OP[op]
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(s).astype(F32) for s in shape_of(shape)]
    position %= len(args)
    args[position] = _bad_array(kind, args[position].shape, rng)
    with pytest.raises(TypeError) as info:
        call(*args)
    assert str(args[position].dtype) in str(info.value), str(info.value)


@property_test(default=10, slow=300, kind=st.sampled_from(BAD_DTYPES), n=st.integers(0, 50),
               which=st.sampled_from(["labels", "param", "state"]))
def test_labels_and_optimizer_buffers_refuse_non_real_dtypes(kind, n, which):
    rng = np.random.default_rng(n)
    bad = _bad_array(kind, (n,), rng)
    if which == "labels":
        with pytest.raises(TypeError, match=rf"labels must be numeric.*{bad.dtype}"):
            ops.softmax_cross_entropy(np.zeros((n, 3), F32), bad)
    elif which == "param":
        with pytest.raises(TypeError, match=rf"param must have dtype float32.*{bad.dtype}"):
            ops.sgd_update(bad, np.zeros(n, F32))
    else:
        with pytest.raises(TypeError, match=rf"m must have dtype float32.*{bad.dtype}"):
            ops.adam_update(np.zeros(n, F32), np.zeros(n, F32), bad, np.zeros(n, F32), step=1)


# ---- out= -----------------------------------------------------------------------------------

# name -> (draw the inputs from a shape, call with **kw), for the ops that take out=
WITH_OUT = {
    **{n: (lambda s: [s], (lambda n: lambda x, **kw: getattr(ops, n)(x, **kw))(n))
       for n in UNARY},
    **{n: (lambda s: [s[1:], s], (lambda n: lambda a, b, **kw: getattr(ops, n)(a, b, **kw))(n))
       for n in BINARY},
    "matmul": (lambda s: [s, (s[-1], 2)], lambda a, b, **kw: ops.matmul(a, b, **kw)),
    "sum": (lambda s: [s], lambda x, **kw: ops.sum(x, axis=0, **kw)),
    "mean": (lambda s: [s], lambda x, **kw: ops.mean(x, axis=-1, keepdims=True, **kw)),
    "softmax": (lambda s: [s], lambda x, **kw: ops.softmax(x, axis=0, **kw)),
}


@property_test(default=40, slow=1000, op=st.sampled_from(sorted(WITH_OUT)),
               shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
               bad=st.sampled_from(["shape", "dtype", "strided", "read-only", "misaligned",
                                    "list"]),
               data=st.data())
def test_out_is_written_and_returned_and_checked(op, shape, bad, data):
    shape_of, call = WITH_OUT[op]
    args = [data.draw(f32_arrays(s), label=f"arg{i}") for i, s in enumerate(shape_of(shape))]
    want = np.asarray(call(*args))
    out = np.full(want.shape, np.nan, F32)  # stale contents must not leak into the result
    assert call(*args, out=out) is out
    assert_identical(out, want)

    wrong = {
        "shape": lambda: np.empty(want.shape + (1,), F32),
        "dtype": lambda: np.empty(want.shape, data.draw(
            st.sampled_from([np.float64, np.float16, np.int32]), label="out dtype")),
        "strided": lambda: np.empty(want.shape + (2,), F32)[..., 0],
        "read-only": lambda: np.empty(want.shape, F32),
        "misaligned": lambda: misaligned_empty(want.shape),
        "list": lambda: want.tolist(),
    }[bad]()
    if bad == "read-only":
        wrong.flags.writeable = False
    if bad == "strided" and wrong.flags.c_contiguous:  # 0 or 1 element: every layout is "C"
        return
    if bad == "misaligned" and wrong.flags.aligned:  # empty: numpy calls it aligned
        return
    error, message = {"shape": (ValueError, "out has shape"),
                      "dtype": (TypeError, "out must have dtype float32"),
                      "strided": (ValueError, "out must be C-contiguous"),
                      "read-only": (ValueError, "out is read-only"),
                      "misaligned": (ValueError, "out must be aligned"),
                      "list": (TypeError, "out must be a numpy array")}[bad]
    with pytest.raises(error, match=message):
        call(*args, out=wrong)


# ---- NaN and inf propagate as in numpy ------------------------------------------------------

@property_test(default=30, slow=800, name=st.sampled_from(sorted(UNARY)),
               shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12),
               data=st.data())
def test_unary_nan_and_inf_like_numpy(name, shape, data):
    x = data.draw(f32_arrays(shape, SPECIAL), label="x")
    check_unary(name, x, getattr(ops, name)(x))


@property_test(default=30, slow=800, name=st.sampled_from(sorted(BINARY)),
               shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                        max_side=6),
               data=st.data())
def test_binary_nan_and_inf_like_numpy(name, shapes, data):
    a = data.draw(f32_arrays(shapes.input_shapes[0], SPECIAL), label="a")
    # The grads' second operand is an activation's output (sigmoid in [0, 1], tanh in [-1, 1])
    # or NaN; a huge y would only measure where float32 intermediates overflow.
    y = st.one_of(st.floats(-1, 1, width=32), st.just(math.nan))
    b = data.draw(f32_arrays(shapes.input_shapes[1],
                             y if name in ("sigmoid_grad", "tanh_grad") else SPECIAL), label="b")
    check_binary(name, a, b, getattr(ops, name)(a, b))


@property_test(default=30, slow=800, shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                            max_side=8),
               data=st.data())
def test_reductions_and_softmax_nan_and_inf_like_numpy(shape, data):
    values = st.one_of(st.floats(-30, 30, width=32),
                       st.sampled_from([math.nan, math.inf, -math.inf]))
    x = data.draw(f32_arrays(shape, values), label="x")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x64 = f64(x)
    with np.errstate(all="ignore"):
        want = x64.sum(axis=axis)
        scale = np.abs(np.where(np.isfinite(x64), x64, 0)).sum(axis=axis)
    assert_within(ops.sum(x, axis=axis), want, 2 * EPS * scale + 1e-44)
    if x.shape[axis]:
        # NaN counts as the maximum (the first one wins), as in numpy.
        np.testing.assert_array_equal(ops.argmax(x, axis=axis), np.argmax(x, axis=axis))
    if x.size:
        # A NaN or +inf in a slice makes it all NaN; a slice of -inf only, too; other -inf are 0.
        assert_within(ops.softmax(x, axis=axis), softmax64(x, axis), softmax_tol(x, axis))


@property_test(default=20, slow=500, m=st.integers(0, 9), k=st.integers(0, 9),
               n=st.integers(0, 9), data=st.data())
def test_matmul_nan_and_inf_like_numpy(m, k, n, data):
    # A NaN poisons its row (of a) or column (of b); inf * 0 and inf - inf are NaN. alpha is
    # nonzero: with alpha 0 the BLAS convention (a and b not read) differs from numpy's 0 * NaN.
    values = st.one_of(st.floats(-4, 4, width=32), st.sampled_from([math.nan, math.inf,
                                                                     -math.inf, 0.0]))
    a = data.draw(f32_arrays((m, k), values), label="a")
    b = data.draw(f32_arrays((k, n), values), label="b")
    alpha = data.draw(st.sampled_from([1.0, -0.5, 2.0]), label="alpha")
    a64, b64 = f64(a), f64(b)
    with np.errstate(all="ignore"):
        # Products summed by numpy itself, not a BLAS (which may skip zeros, and NaN with them).
        want = alpha * (a64[:, :, None] * b64[None, :, :]).sum(axis=1)
        tol = gemm_tol(np.nan_to_num(a64, posinf=0, neginf=0),
                       np.nan_to_num(b64, posinf=0, neginf=0), alpha)
    assert_within(ops.matmul(a, b, alpha=alpha), want, tol)
