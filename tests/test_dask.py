"""A scikit-learn search over a fastnn estimator on a Dask cluster, through joblib's Dask
backend: two worker processes on localhost, the same results as the serial search."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason='needs scikit-learn: pip install "fastnn[sklearn]"')
distributed = pytest.importorskip("distributed", reason='needs dask.distributed: '
                                  'pip install "fastnn[dask]"')

import joblib  # noqa: E402  (a dependency of scikit-learn)
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastnn  # noqa: E402
from fastnn.wrappers import SKLearnClassifier  # noqa: E402


def test_grid_search_on_a_local_dask_cluster_equals_the_serial_one():
    def build(X, y, units=8):
        # Defined here: the workers receive it by value (cloudpickle), not by module name.
        inputs = fastnn.layers.Input((X.shape[1],))
        h = fastnn.layers.Dense(units, activation="relu")(inputs)
        outputs = fastnn.layers.Dense(y.shape[1], activation="softmax")(h)
        model = fastnn.models.Model(inputs, outputs)
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
        return model

    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = StandardScaler().fit_transform(X[order]), y[order]
    est = SKLearnClassifier(build, fit_kwargs={"epochs": 30, "batch_size": 16}, random_state=0)
    grid = {"model_kwargs__units": [2, 8, 32]}  # 3 settings x 3 folds
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # Each worker has one core's worth of threads (its nanny sets OMP_NUM_THREADS=1) and
        # fastnn's pool keeps to it: two workers on two cores run two busy threads, not four.
        assert set(client.run(fastnn.get_num_threads).values()) == {1}
        with joblib.parallel_backend("dask"):
            spread = GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y)
        ran_on = client.run(lambda: __import__("os").getpid())
    assert len(ran_on) == 2

    assert spread.best_params_ == serial.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(spread.cv_results_[key], serial.cv_results_[key])
    np.testing.assert_array_equal(spread.predict_proba(X), serial.predict_proba(X))
