"""Dataset loaders on small IDX/npz files written by the tests, the shipped sample, downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from fastnn.datasets import DatasetNotFoundError, fashion_mnist, mnist, read_idx
from fastnn.datasets import _files

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype("u1"): 0x08, np.dtype("i2"): 0x0B, np.dtype("f4"): 0x0D}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def tiny_dataset(rng, n_train=7, n_test=3):
    return ((rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_train, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_test, dtype=np.uint8)))


def write_idx_folder(folder: Path, data, gz=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = data
    for name, arr in zip(_files.IDX_FILES, (xtr, ytr, xte, yte)):
        raw = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


def assert_same(got, want):
    for g, w in zip((got[0][0], got[0][1], got[1][0], got[1][1]),
                    (want[0][0], want[0][1], want[1][0], want[1][1])):
        assert g.dtype == np.uint8
        np.testing.assert_array_equal(g, w)


@pytest.fixture(autouse=True)
def isolated_home(offline_home):
    """Every test here runs offline, in an empty HOME (tests/conftest.py)."""
    return offline_home


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_gzipped_or_raw(tmp_path, rng, gz):
    data = tiny_dataset(rng)
    folder = write_idx_folder(tmp_path / "d", data, gz=gz)
    assert_same(mnist.load_data(folder), data)
    assert_same(fashion_mnist.load_data(folder), data)


def test_keras_npz(tmp_path, rng):
    data = tiny_dataset(rng)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=data[0][0], y_train=data[0][1], x_test=data[1][0], y_test=data[1][1])
    assert_same(mnist.load_data(path), data)


def test_read_idx_other_dtypes(tmp_path):
    arr = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 7
    (tmp_path / "a.idx").write_bytes(idx_bytes(arr))
    got = read_idx(tmp_path / "a.idx")
    np.testing.assert_array_equal(got, arr)
    f = np.linspace(-1, 1, 5, dtype=np.float32)
    (tmp_path / "f.idx").write_bytes(idx_bytes(f))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), f)


def test_corrupt_files_raise_clear_errors(tmp_path, rng):
    good = idx_bytes(rng.integers(0, 256, (4, 28, 28), dtype=np.uint8))
    (tmp_path / "truncated").write_bytes(good[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "truncated")
    (tmp_path / "foreign").write_bytes(b"PK\x03\x04 definitely not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "foreign")
    (tmp_path / "badgz").write_bytes(gzip.compress(good)[:40])
    with pytest.raises(ValueError, match="corrupt gzip"):
        read_idx(tmp_path / "badgz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable npz"):
        mnist.load_data(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="npz without"):
        mnist.load_data(tmp_path / "partial.npz")


def test_mismatched_lengths(tmp_path, rng):
    (xtr, ytr), test = tiny_dataset(rng)
    folder = write_idx_folder(tmp_path / "d", ((xtr, ytr[:-1]), test))
    with pytest.raises(ValueError, match="expected images"):
        mnist.load_data(folder)


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="neither an npz file nor a folder"):
        mnist.load_data(tmp_path / "nowhere")


def test_search_order_env_then_home_then_keras(tmp_path, rng, monkeypatch):
    home = Path(str(tmp_path / "home"))
    keras_data, home_data, env_data = tiny_dataset(rng), tiny_dataset(rng), tiny_dataset(rng)
    np.savez(_mkdir(home / ".keras" / "datasets") / "mnist.npz",
             x_train=keras_data[0][0], y_train=keras_data[0][1],
             x_test=keras_data[1][0], y_test=keras_data[1][1])
    assert_same(mnist.load_data(), keras_data)
    write_idx_folder(home / ".fastnn" / "datasets" / "mnist", home_data)
    assert_same(mnist.load_data(), home_data)
    write_idx_folder(tmp_path / "env" / "mnist", env_data)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    assert_same(mnist.load_data(), env_data)


def test_fashion_looks_in_keras_cache(tmp_path, rng):
    data = tiny_dataset(rng)
    write_idx_folder(Path(str(tmp_path / "home")) / ".keras" / "datasets" / "fashion-mnist", data)
    assert_same(fashion_mnist.load_data(), data)


def test_offline_error_says_where_to_put_files():
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    text = str(info.value)
    assert "could not be downloaded" in text
    assert ".fastnn/datasets/mnist" in text and "mnist.npz" in text
    assert "train-images-idx3-ubyte.gz" in text
    # The places and the reason, for a program that words its own message (the command line).
    assert info.value.looked and all(str(p) in text for p in info.value.looked)
    assert info.value.reason and info.value.reason in text


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_verifies_sha256_and_is_atomic(tmp_path, rng, monkeypatch):
    data = tiny_dataset(rng)
    buf = io.BytesIO()
    np.savez(buf, x_train=data[0][0], y_train=data[0][1], x_test=data[1][0], y_test=data[1][1])
    payload = buf.getvalue()
    monkeypatch.setattr(_files.urllib.request, "urlopen",
                        lambda url, timeout: _FakeResponse(payload))
    dest_dir = Path(str(tmp_path / "home")) / ".fastnn" / "datasets" / "mnist"

    # A payload whose hash differs from the published one is rejected and leaves nothing behind.
    with pytest.raises(ValueError, match="corrupt: sha256"):
        mnist.load_data()
    assert list(dest_dir.iterdir()) == []

    monkeypatch.setattr(mnist, "_NPZ_SHA256", hashlib.sha256(payload).hexdigest())
    assert_same(mnist.load_data(), data)
    assert (dest_dir / "mnist.npz").read_bytes() == payload
    # Next time it is found locally: no download.
    monkeypatch.setattr(_files.urllib.request, "urlopen", None)
    assert_same(mnist.load_data(), data)


def test_shipped_sample():
    (x_train, y_train), (x_test, y_test) = mnist.load_sample()
    assert x_train.shape == (5000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (5000,) and np.bincount(y_train).tolist() == [500] * 10
    # mixed like MNIST's training file: every class in the first 128 (a batch), same order twice
    assert len(set(y_train[:128].tolist())) == 10
    assert np.array_equal(mnist.load_sample()[0][1], y_train)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the official test set's start
    assert 30 < x_test.mean() < 40  # real digits, not blank or random images


@pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(), reason="needs ../shared/data")
def test_real_fashion_mnist_files():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(SHARED / "fashion-mnist")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
