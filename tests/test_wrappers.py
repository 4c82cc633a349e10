"""fastnn.wrappers: scikit-learn's own estimator checks, and the wrappers in Pipeline,
GridSearchCV and cross_val_score, as Keras' wrappers are used."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason='the wrappers need scikit-learn: '
                              'pip install "fastnn[sklearn]"')

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from fastnn.layers import Dense, Input  # noqa: E402
from fastnn.models import Model, Sequential  # noqa: E402
from fastnn.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402


def build(X, y, loss="categorical_crossentropy", layers=(10,), out_activation="softmax",
          units=None):
    """The book's MLP sized from the data, as in Keras' own wrapper tests."""
    inputs = Input((X.shape[1],))
    h = inputs
    for n in ([units] if units else layers):
        h = Dense(n, activation="relu")(h)
    outputs = Dense(y.shape[1] if y.ndim > 1 else 1, activation=out_activation)(h)
    model = Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss=loss)
    return model


# Every check that fails, and why; every other check must pass (parametrize_with_checks turns an
# unexpected pass of these into a failure, as xfail_strict does).
_WEIGHTS = ("a weight of 2 doubles a sample's gradient while a repeated sample adds a step of "
            "minibatch training: the two fits follow different paths and end at different "
            "weights (the loss they minimise is the same)")
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS,
}

ESTIMATORS = [
    SKLearnClassifier(build, model_kwargs={"layers": [20, 20]}, fit_kwargs={"epochs": 5},
                      random_state=0),
    SKLearnRegressor(build, model_kwargs={"loss": "mse", "out_activation": "linear"},
                     fit_kwargs={"epochs": 50}, random_state=0),
    SKLearnTransformer(build, model_kwargs={"loss": "mse", "out_activation": "linear"},
                       random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    return X[order], y[order]


def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), SKLearnClassifier(
        build, fit_kwargs={"epochs": 60, "batch_size": 16}, random_state=0))
    grid = GridSearchCV(pipe, {"sklearnclassifier__model_kwargs__units": [2, 32]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"sklearnclassifier__model_kwargs__units": 32}
    assert grid.best_score_ > 0.85
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.7
    assert set(grid.predict(X)) <= {0, 1, 2}


def test_regressor_in_a_search():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    y = y / y.std()
    reg = SKLearnRegressor(build, model_kwargs={"loss": "mse", "out_activation": "linear"},
                           fit_kwargs={"epochs": 100}, random_state=0)
    search = GridSearchCV(reg, {"fit_kwargs__batch_size": [16, 64]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.9  # R², on nearly linear data
    assert search.predict(X).shape == (200,) and search.predict(X).dtype == np.float64


def test_params_of_the_callable_and_of_fit():
    est = SKLearnClassifier(build, model_kwargs={"units": 4}, fit_kwargs={"epochs": 2})
    params = est.get_params()
    assert params["model_kwargs__units"] == 4 and params["fit_kwargs__epochs"] == 2
    assert "model_kwargs__units" not in est.get_params(deep=False)
    twin = clone(est).set_params(model_kwargs__units=8, fit_kwargs__batch_size=5)
    assert twin.model_kwargs == {"units": 8} and twin.fit_kwargs == {"epochs": 2, "batch_size": 5}
    assert est.model_kwargs == {"units": 4}, "set_params changed the dict of the original"
    with pytest.raises(ValueError, match="model_kwargs must be a dict"):
        SKLearnClassifier(build, model_kwargs=3).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(unknown=1)


def test_a_compiled_model_is_a_template(iris):
    X, y = iris
    template = Sequential([Input((4,)), Dense(16, activation="relu"),
                           Dense(3, activation="softmax")])
    template.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in template.get_weights()]
    clf = SKLearnClassifier(template, fit_kwargs={"epochs": 3}).fit(X, y)
    assert clf.model_ is not template
    assert all(np.array_equal(a, b) for a, b in zip(before, template.get_weights()))
    assert type(clf.model_.optimizer).__name__ == "Adam"
    assert clone(clf).model is template  # clones share the template, which no fit trains
    uncompiled = Sequential([Input((4,)), Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="must be compiled"):
        SKLearnClassifier(uncompiled).fit(X, y)
    with pytest.raises(ValueError, match="model_kwargs are for a callable"):
        SKLearnClassifier(template, model_kwargs={"units": 3}).fit(X, y)


def test_the_targets_follow_the_model(iris):
    X, y = iris
    binary = y[y < 2], X[y < 2]
    sigmoid = Sequential([Input((4,)), Dense(8, activation="relu"),
                          Dense(1, activation="sigmoid")])
    sigmoid.compile(optimizer="rmsprop", loss="binary_crossentropy")
    clf = SKLearnClassifier(sigmoid, fit_kwargs={"epochs": 30}, random_state=0)
    clf.fit(binary[1], np.where(binary[0] == 0, "setosa", "versicolor"))
    proba = clf.predict_proba(binary[1])
    assert proba.shape == (len(binary[0]), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert list(clf.classes_) == ["setosa", "versicolor"]
    assert clf.score(binary[1], np.where(binary[0] == 0, "setosa", "versicolor")) > 0.9

    sparse = Sequential([Input((4,)), Dense(3, activation="softmax")])
    sparse.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    clf = SKLearnClassifier(sparse, fit_kwargs={"epochs": 2}).fit(X, y + 10)
    assert list(clf.classes_) == [10, 11, 12] and set(clf.predict(X)) <= {10, 11, 12}

    wrong = Sequential([Input((4,)), Dense(5, activation="softmax")])
    wrong.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="5 outputs for 3 classes"):
        SKLearnClassifier(wrong).fit(X, y)


def test_random_state_repeats_fits_even_in_threads(iris, run_in_threads):
    X, y = iris
    est = SKLearnClassifier(build, model_kwargs={"layers": [8]}, fit_kwargs={"epochs": 3},
                            random_state=7)
    reference = clone(est).fit(X, y).predict_proba(X)
    results = {}

    def fit(i):
        results[i] = clone(est).fit(X, y).predict_proba(X)

    run_in_threads(fit, [(i,) for i in range(4)], timeout=60)
    assert len(results) == 4
    for r in results.values():
        np.testing.assert_array_equal(r, reference)
    other = clone(est).set_params(random_state=8).fit(X, y).predict_proba(X)
    assert not np.array_equal(other, reference)


def test_warm_start_continues_the_fitted_model(iris):
    X, y = iris
    est = SKLearnClassifier(build, fit_kwargs={"epochs": 2}, warm_start=True, random_state=0)
    est.fit(X, y)
    first = est.model_
    loss = est.history_["loss"][-1]
    est.fit(X, y)
    assert est.model_ is first and est.history_["loss"][0] < loss * 1.05
    with pytest.raises(ValueError, match="labels not seen"):
        est.fit(X, y + 1)


def test_a_fitted_estimator_pickles(iris):
    X, y = iris
    est = SKLearnClassifier(build, fit_kwargs={"epochs": 2}, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_transformer_feeds_the_next_step(iris):
    X, y = iris
    embed = SKLearnTransformer(build, model_kwargs={"loss": "mse", "out_activation": "linear"},
                               fit_kwargs={"epochs": 2}, random_state=0)
    onehot = np.eye(3)[y]
    out = embed.fit(X, onehot).transform(X)
    assert out.shape == (150, 3) and out.dtype == np.float32
    pipe = make_pipeline(embed, SKLearnClassifier(build, fit_kwargs={"epochs": 2}))
    assert pipe.fit(X, y).predict(X).shape == (150,)


def test_import_fastnn_does_not_import_sklearn():
    import subprocess
    import sys
    code = ("import sys, fastnn; fastnn.ops; assert 'sklearn' not in sys.modules; "
            "import fastnn.wrappers; assert 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fastnn_wrappers_is_a_submodule():
    assert fastnn.wrappers.SKLearnClassifier is SKLearnClassifier
