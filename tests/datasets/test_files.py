"""find_file, the finder of one-file datasets (imdb.npz, *_word_index.json, ...): downloads
checked against the published digest, kept atomically; files the user points at read as they
are."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from fastnn.datasets import _files, boston_housing, imdb


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(monkeypatch, payload: bytes, urls: list):
    def urlopen(url, timeout):
        urls.append(url)
        return FakeResponse(payload)
    monkeypatch.setattr(_files.urllib.request, "urlopen", urlopen)


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_a_download_is_checked_against_the_published_sha256(monkeypatch, isolated_home):
    payload = npz_bytes(x=np.ones((5, 13)), y=np.arange(5.0))
    urls: list = []
    serve(monkeypatch, payload, urls)
    cache = isolated_home / ".fastnn" / "datasets"
    with pytest.raises(ValueError, match="corrupt: sha256"):
        boston_housing.load_data()
    assert urls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                    "boston_housing.npz"]
    assert list(cache.iterdir()) == []  # nothing kept, not even a partial file

    monkeypatch.setattr(boston_housing, "_NPZ_SHA256", hashlib.sha256(payload).hexdigest())
    (x_train, _), (x_test, _) = boston_housing.load_data()
    assert len(x_train) + len(x_test) == 5
    assert (cache / "boston_housing.npz").read_bytes() == payload
    monkeypatch.setattr(_files.urllib.request, "urlopen", None)  # found now, no download
    assert len(boston_housing.load_data()[0][0]) == 4


def test_word_indexes_are_checked_against_keras_md5(monkeypatch, isolated_home):
    payload = b'{"the": 1}'
    urls: list = []
    serve(monkeypatch, payload, urls)
    with pytest.raises(ValueError, match="corrupt: md5"):
        imdb.get_word_index()
    monkeypatch.setattr(imdb, "_INDEX_MD5", hashlib.md5(payload).hexdigest())
    assert imdb.get_word_index() == {"the": 1}
    assert urls[-1].endswith("/tf-keras-datasets/imdb_word_index.json")


def test_a_bare_name_not_found_is_downloaded_under_that_name(monkeypatch, isolated_home,
                                                             keras, tmp_path):
    # As Keras' get_file(fname=path, origin=...): the name is where the download is kept.
    src = keras.write_imdb(tmp_path / "src.npz", [[1]], [0], [[2]], [1])
    payload = src.read_bytes()
    serve(monkeypatch, payload, [])
    monkeypatch.setattr(imdb, "_NPZ_SHA256", hashlib.sha256(payload).hexdigest())
    imdb.load_data("my_imdb.npz")
    assert (isolated_home / ".fastnn" / "datasets" / "my_imdb.npz").read_bytes() == payload


def test_a_file_the_user_names_is_read_without_the_checksum(tmp_path, keras):
    # Its sha256 is not Keras' (the checksum guards only downloads); the reader's own checks
    # still apply.
    path = keras.write_imdb(tmp_path / "elsewhere.npz", [[1]], [0], [[2]], [1])
    assert len(imdb.load_data(path)[0][0]) == 1


def test_env_folder_first(tmp_path, keras, monkeypatch, isolated_home):
    keras.write_imdb(isolated_home / ".keras" / "datasets" / "imdb.npz", [[1]], [0], [[2]], [0])
    keras.write_imdb(tmp_path / "env" / "imdb.npz", [[1]], [1], [[2]], [1])
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    assert _files.find_file("IMDB", "imdb.npz", "imdb.npz", "url", ("sha256", "0")) == \
        tmp_path / "env" / "imdb.npz"
    assert imdb.load_data()[0][1].tolist() == [1]
