"""boston_housing.load_data on files in Keras' format (x (n, 13), y (n,))."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.datasets import DatasetNotFoundError, boston_housing


@pytest.fixture
def small(tmp_path, rng):
    x, y = rng.random((37, 13)), rng.random(37) * 50
    np.savez(tmp_path / "boston_housing.npz", x=x, y=y)
    return tmp_path / "boston_housing.npz", x, y


@pytest.mark.parametrize("test_split, seed", [(0.2, 113), (0.0, 113), (0.5, 0), (0.99, 7)])
def test_shuffle_and_split_as_documented(small, test_split, seed):
    path, x, y = small
    order = np.arange(37)
    np.random.RandomState(seed).shuffle(order)
    cut = int(37 * (1 - test_split))
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(path, test_split, seed)
    np.testing.assert_array_equal(x_train, x[order[:cut]])
    np.testing.assert_array_equal(y_train, y[order[:cut]])
    np.testing.assert_array_equal(x_test, x[order[cut:]])
    np.testing.assert_array_equal(y_test, y[order[cut:]])
    assert x_train.dtype == y_train.dtype == np.float64


@pytest.mark.parametrize("test_split", [1.0, 1, -0.2, 2.0, float("inf"), "a"])
def test_bad_test_split(small, test_split):
    with pytest.raises(ValueError, match=r"Received: test_split="):
        boston_housing.load_data(small[0], test_split=test_split)


def test_bad_files(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 13)), y=np.zeros(4))
    with pytest.raises(ValueError, match=r"expected x \(rows, features\) and y \(rows,\)"):
        boston_housing.load_data(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.array(["a", "b"]), y=np.zeros(2))
    with pytest.raises(ValueError, match="x has dtype <U1"):
        boston_housing.load_data(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", features=np.zeros((3, 13)))
    with pytest.raises(ValueError, match=r"npz without \['x', 'y'\]"):
        boston_housing.load_data(tmp_path / "c.npz")


def test_search_order_and_offline(small, isolated_home, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="boston_housing.npz"):
        boston_housing.load_data()
    path, x, _ = small
    monkeypatch.setenv("FASTNN_DATA", str(path.parent))
    assert boston_housing.load_data()[0][0].shape == (29, 13)


def test_the_real_file_gives_keras_split(keras):
    real = keras.shared / "boston_housing.npz"
    if not real.is_file():
        pytest.skip("needs ../shared/data/boston_housing.npz")
    # Not byte-identical to Keras' file (another sha256): an explicit path loads without the
    # checksum, which only guards downloads.
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(str(real))
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    # Keras' first training row and price (keras.datasets.boston_housing.load_data())
    np.testing.assert_allclose(x_train[0, :3], [1.23247, 0.0, 8.14])
    assert y_train[0] == pytest.approx(15.2)
