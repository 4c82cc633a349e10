"""scipy.sparse inputs: the sparse dense-layer kernels against numpy, for any thread count; fit,
evaluate and predict from a CSR matrix against the same data dense, compiled and op by op; no
batch densified; clear errors for what cannot take a sparse input."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import _C, layers, models
from fastnn.utils import set_random_seed

sp = pytest.importorskip("scipy.sparse", reason="sparse inputs need scipy (fastnn[scipy])")


def random_csr(n, d, density=0.05, seed=0, duplicates=False, unsorted=False):
    """A CSR matrix with empty rows, and optionally repeated or unsorted column indices (both
    legal in CSR: repeated entries add up)."""
    rng = np.random.default_rng(seed)
    x = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float32)
    x.data[:] = rng.standard_normal(x.nnz).astype(np.float32)
    if n > 3:
        x = sp.vstack([x[:2], sp.csr_matrix((1, d), dtype=np.float32), x[2:]]).tocsr()
    if duplicates:
        # A fifth of the entries again, as separate entries of their rows: built from
        # (data, indices, indptr), which scipy keeps as given (from COO it would sum them).
        coo = x.tocoo()
        extra = rng.integers(0, coo.nnz, max(1, coo.nnz // 5))
        rows = np.concatenate([coo.row, coo.row[extra]])
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(x.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=x.shape[0]), out=indptr[1:])
        x = sp.csr_matrix((np.concatenate([coo.data, coo.data[extra]])[order],
                           np.concatenate([coo.col, coo.col[extra]])[order], indptr),
                          shape=x.shape)
    if unsorted:
        for r in range(x.shape[0]):
            a, b = x.indptr[r], x.indptr[r + 1]
            perm = rng.permutation(b - a) + a
            x.indices[a:b], x.data[a:b] = x.indices[perm].copy(), x.data[perm].copy()
        x.has_sorted_indices = False
    return x


def kernel_args(x):
    return (x.indptr.astype(np.int64), x.indices.astype(np.int32), x.data.astype(np.float32))


@pytest.mark.parametrize("units", [1, 7, 16, 17, 33, 64])
@pytest.mark.parametrize("kind", ["plain", "duplicates", "unsorted"])
def test_sparse_dense_kernels_against_numpy(units, kind):
    x = random_csr(70, 300, seed=units, duplicates=kind == "duplicates",
                   unsorted=kind == "unsorted")
    n = x.shape[0]
    dense = x.toarray().astype(np.float64)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((300, units)).astype(np.float32)
    b = rng.standard_normal(units).astype(np.float32)
    for act, ref in [(_C.Activation.linear, lambda z: z), (_C.Activation.relu,
                                                            lambda z: np.maximum(z, 0))]:
        y = np.empty((n, units), np.float32)
        _C.dense_forward_sparse(kernel_args(x), w, b, y, act)
        np.testing.assert_allclose(y, ref(dense @ w + b), rtol=1e-5, atol=1e-5)
    dz = rng.standard_normal((n, units)).astype(np.float32)
    dw = np.full((300, units), np.nan, np.float32)
    db = np.full(units, np.nan, np.float32)
    _C.dense_backward_sparse(dz, kernel_args(x), dw, db, 300)
    np.testing.assert_allclose(dw, dense.T @ dz, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_slices_with_absolute_offsets_and_large_products():
    # A slice's indptr starts past 0; a product big enough to be split over the pool.
    x = random_csr(3000, 2000, density=0.03, seed=5)  # 3001 rows: one empty
    args = kernel_args(x)
    sl = (args[0][1000:2501], args[1], args[2])
    w = np.random.default_rng(2).standard_normal((2000, 40)).astype(np.float32)
    y = np.empty((1500, 40), np.float32)
    _C.dense_forward_sparse(sl, w, None, y, _C.Activation.linear)
    np.testing.assert_allclose(y, x[1000:2500].toarray() @ w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("units", [16, 64])
def test_the_sparse_kernels_give_the_same_bits_for_any_thread_count(units):
    x = random_csr(4000, 3000, density=0.02, seed=3)
    n = x.shape[0]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3000, units)).astype(np.float32)
    dz = rng.standard_normal((n, units)).astype(np.float32)
    before = fastnn.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            y = np.empty((n, units), np.float32)
            dw = np.empty((3000, units), np.float32)
            _C.dense_forward_sparse(kernel_args(x), w, None, y, _C.Activation.relu)
            _C.dense_backward_sparse(dz, kernel_args(x), dw, None, 3000)
            results.append((y, dw))
    finally:
        fastnn.set_num_threads(before)
    for y, dw in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dw, results[0][1])


def test_the_kernel_bindings_refuse_malformed_matrices():
    w = np.ones((10, 4), np.float32)
    y = np.empty((2, 4), np.float32)
    good = (np.array([0, 1, 2], np.int64), np.array([3, 9], np.int32), np.ones(2, np.float32))
    bad = [((good[0], np.array([3, 10], np.int32), good[2]), "out of range"),
           ((good[0], np.array([3, -1], np.int32), good[2]), "out of range"),
           ((np.array([0, 2, 1], np.int64), good[1], good[2]), "decreases"),
           ((np.array([0, 1, 3], np.int64), good[1], good[2]), "outside"),
           ((good[0], good[1], np.ones(3, np.float32)), "differ in length")]
    for args, match in bad:
        with pytest.raises(ValueError, match=match):
            _C.dense_forward_sparse(args, w, None, y, _C.Activation.linear)
    with pytest.raises(TypeError, match="dtype"):
        _C.dense_forward_sparse((good[0].astype(np.int32), good[1], good[2]), w, None, y,
                                _C.Activation.linear)


def imdb_like(n=600, d=500, seed=0):
    x = random_csr(n - 1, d, density=0.04, seed=seed)  # and an empty row
    x.data[:] = 1.0
    y = (np.asarray(x[:, :40].sum(axis=1)).ravel() >= 1).astype(np.float32)
    return x, y


def the_books_imdb_model(d):
    return models.Sequential([layers.Input((d,)), layers.Dense(16, activation="relu"),
                              layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("eager", [False, True], ids=["compiled", "op-by-op"])
def test_fit_evaluate_predict_from_csr_match_the_dense_array(eager):
    x, y = imdb_like()
    xv, yv = imdb_like(200, seed=1)
    runs = []
    for data, val in ((x, xv), (x.toarray(), xv.toarray())):
        set_random_seed(4)
        model = the_books_imdb_model(500)
        model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"], run_eagerly=eager)
        assert model.execution_plan()["fit"].startswith("compiled") != eager
        h = model.fit(data, y, batch_size=64, epochs=3, verbose=0, validation_data=(val, yv))
        runs.append((h.history, model.get_weights(), model.predict(val, verbose=0),
                     model.evaluate(val, yv, verbose=0), model.predict_on_batch(val[:7]),
                     model.test_on_batch(val, yv)))
    (h1, w1, p1, e1, b1, t1), (h2, w2, p2, e2, b2, t2) = runs
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e1, e2, rtol=1e-5)
    np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t1, t2, rtol=1e-5)
    assert h1["accuracy"][-1] > h1["accuracy"][0]


def test_validation_split_train_on_batch_and_other_sparse_formats():
    x, y = imdb_like()
    for data in (x, x.tocoo(), x.tocsc(), sp.csr_array(x)):
        set_random_seed(1)
        model = the_books_imdb_model(500)
        model.compile("rmsprop", "binary_crossentropy")
        h = model.fit(data, y, batch_size=100, epochs=2, verbose=0, validation_split=0.25)
        assert set(h.history) == {"loss", "val_loss"}
        loss = model.train_on_batch(data, y)
        assert np.isfinite(loss)


def test_no_batch_is_densified(monkeypatch):
    x, y = imdb_like()

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse input was densified")
    for cls in (sp.csr_matrix, sp.coo_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    for eager in (False, True):
        model = the_books_imdb_model(500)
        model.compile("rmsprop", "binary_crossentropy", run_eagerly=eager)
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x, verbose=0)


def test_a_functional_model_with_a_sparse_and_a_dense_input():
    x, y = imdb_like()
    extra = np.random.default_rng(0).standard_normal((600, 3)).astype(np.float32)
    words = layers.Input((500,), name="words")
    other = layers.Input((3,), name="other")
    h = layers.Concatenate()([layers.Dense(8, activation="relu")(words),
                              layers.Dense(4, activation="relu")(other)])
    model = models.Model([words, other], layers.Dense(1, activation="sigmoid")(h))
    results = []
    for data in ({"words": x, "other": extra}, {"words": x.toarray(), "other": extra}):
        set_random_seed(2)
        model = models.clone_model(model)
        model.compile("adam", "binary_crossentropy")
        results.append(model.fit(data, y, batch_size=50, epochs=2, verbose=0).history["loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_a_sparse_input_that_feeds_another_layer_is_refused_by_name():
    x, y = imdb_like()
    model = models.Sequential([layers.Input((500,)), layers.Dropout(0.5, name="drop"),
                               layers.Dense(1, activation="sigmoid")])
    for eager in (False, True):
        model.compile("rmsprop", "binary_crossentropy", run_eagerly=eager)
        with pytest.raises(TypeError, match="drop.*Dropout|Dropout.*drop"):
            model.fit(x, y, epochs=1, verbose=0)
        with pytest.raises(TypeError, match="Dropout"):
            model.predict(x, verbose=0)

    class Sub(models.Model):
        def __init__(self):
            super().__init__()
            self.drop = layers.Dropout(0.5, name="sub_drop")
            self.out = layers.Dense(1)

        def call(self, inputs, training=False):
            return self.out(self.drop(inputs, training=training))
    sub = Sub()
    sub.compile("rmsprop", "mse")
    with pytest.raises(TypeError, match="sub_drop"):
        sub.fit(x, y, epochs=1, verbose=0)


def test_bad_sparse_data_is_refused_clearly():
    model = the_books_imdb_model(500)
    model.compile("rmsprop", "binary_crossentropy")
    x, y = imdb_like()
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 500\)"):
        model.fit(sp.random(600, 400, density=0.1, format="csr"), y, verbose=0)
    broken = x.copy()
    broken.indices[5] = 900  # a column past the matrix' 500
    with pytest.raises(ValueError, match="column indices"):
        model.fit(broken, y, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        model.predict(sp.csr_matrix(np.ones((2, 500), np.complex64)), verbose=0)
