"""The examples run end to end (on small settings), so they never rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BOSTON = ROOT.parent / "shared" / "data" / "boston_housing.csv"
BOSTON_NPZ = ROOT.parent / "shared" / "data" / "boston_housing.npz"


def run(*args: str, env=None) -> str:
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                       cwd=ROOT, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    return r.stdout


def run_failing(*args: str) -> str:
    """stderr of an example that must stop with a message, not a traceback."""
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                       cwd=ROOT)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr  # one line
    return r.stderr


def word_sequences(rng, labels, topic_words=10):
    """Reviews or newswires as Keras stores them (an object array of lists of word ranks), each
    mixing common words with a few of its label's own: learnable in a few epochs."""
    x = np.empty(len(labels), dtype=object)
    for i, label in enumerate(labels):
        common = rng.integers(1, 2000, rng.integers(15, 40))
        own = 2000 + label * topic_words + rng.integers(0, topic_words, rng.integers(6, 12))
        x[i] = rng.permutation(np.concatenate([common, own])).tolist()
    return x


def test_binary_classifier():
    out = run(str(EXAMPLES / "binary_classifier.py"), "--samples", "1000", "--epochs", "10")
    acc = float(out.split("test accuracy")[1].split()[0])
    assert acc > 0.85


def test_from_scratch_model_on_a_gradient_tape():
    # The bar: >= 0.85 on the official test set after 10 epochs on the shipped sample
    # (a numpy float64 replay of the same program reaches 0.89).
    out = run(str(EXAMPLES / "from_scratch.py"), "--epochs", "10")
    assert "loss at batch 0" in out
    assert float(out.split("accuracy:")[1].split()[0]) >= 0.85


def test_mnist_mlp_falls_back_to_the_sample(tmp_path):
    # An empty HOME and FASTNN_DATA, and no network: the example must use the shipped sample.
    out = run(str(EXAMPLES / "mnist_mlp.py"),
              env={"HOME": str(tmp_path), "FASTNN_DATA": str(tmp_path), "https_proxy": "http://127.0.0.1:9"})
    assert "training on" in out
    assert float(out.split("test_acc:")[1].split()[0]) > 0.8


@pytest.mark.skipif(not BOSTON.is_file(), reason="needs ../shared/data/boston_housing.csv")
def test_boston_housing_k_fold_on_the_csv():
    out = run(str(EXAMPLES / "boston_housing.py"), "--csv", str(BOSTON), "--epochs", "20",
              "--folds", "2")
    assert "fold 2/2" in out and "404 training / 102 test houses" in out
    assert float(out.split("test MAE")[1].split()[0]) < 5.0


@pytest.mark.skipif(not BOSTON_NPZ.is_file(),
                    reason="needs ../shared/data/boston_housing.npz")
def test_boston_housing_the_books_recipe_on_keras_split():
    # The book's recipe (80 epochs, batch 16): over seeds 0-19 the test MAE was 2.49-2.95 k$.
    out = run(str(EXAMPLES / "boston_housing.py"), "--data", str(BOSTON_NPZ))
    assert "fold 4/4" in out and "404 training / 102 test houses" in out
    assert float(out.split("test MAE")[1].split()[0]) <= 3.0


def test_boston_housing_on_a_small_file(tmp_path, rng):
    x = rng.normal(size=(60, 13))
    np.savez(tmp_path / "b.npz", x=x, y=20 + 3 * x[:, 0] + rng.normal(size=60))
    out = run(str(EXAMPLES / "boston_housing.py"), "--data", str(tmp_path / "b.npz"),
              "--epochs", "2", "--folds", "2")
    assert "48 training / 12 test houses" in out
    err = run_failing(str(EXAMPLES / "boston_housing.py"), "--data", str(tmp_path / "no" / "b.npz"))
    assert "put Keras' boston_housing.npz in ~/.fastnn/datasets/" in err


def test_imdb_on_a_small_file(tmp_path, rng):
    y_train, y_test = rng.integers(0, 2, 1200), rng.integers(0, 2, 300)
    np.savez(tmp_path / "imdb.npz", x_train=word_sequences(rng, y_train), y_train=y_train,
             x_test=word_sequences(rng, y_test), y_test=y_test)
    # sparse rows when scipy is installed, and the book's dense ones: the same training
    outs = [run(str(EXAMPLES / "imdb.py"), "--data", str(tmp_path / "imdb.npz"), "--epochs", "8",
                "--validation", "200", "--plot", str(tmp_path / "curves.png"), *dense)
            for dense in ([], ["--dense"])]
    for out in outs:
        assert "Epoch 8/8" in out and "val_accuracy" in out
        assert "1000 training / 200 validation / 300 test reviews" in out
        assert float(out.split("test accuracy")[1].split()[0]) > 0.8
        assert (tmp_path / "curves.png").is_file() or "--plot needs matplotlib" in out
    last = [out.split("test loss")[1] for out in outs]
    assert abs(float(last[0].split(",")[0]) - float(last[1].split(",")[0])) < 1e-3
    err = run_failing(str(EXAMPLES / "imdb.py"), "--data", str(tmp_path / "no" / "imdb.npz"))
    assert "put Keras' imdb.npz (https://" in err and "in ~/.fastnn/datasets/" in err


def test_reuters_on_a_small_file(tmp_path, rng):
    y = rng.integers(0, 4, 1500)
    np.savez(tmp_path / "reuters.npz", x=word_sequences(rng, y), y=y)
    out = run(str(EXAMPLES / "reuters.py"), "--data", str(tmp_path / "reuters.npz"), "--epochs",
              "8", "--validation", "200")
    assert "1000 training / 200 validation / 300 test newswires" in out
    assert float(out.split("test accuracy")[1].split()[0]) > 0.8
    err = run_failing(str(EXAMPLES / "reuters.py"), "--data", str(tmp_path / "no" / "r.npz"))
    assert "put Keras' reuters.npz (https://" in err and "in ~/.fastnn/datasets/" in err


def test_functional_api_two_inputs_a_shared_layer_two_outputs():
    out = run(str(EXAMPLES / "functional_api.py"), "--epochs", "5")
    assert "fit: compiled (one C++ call per batch)" in out
    assert "half_encoder[1][0]" in out  # the shared layer's second call, in the summary
    digit = float(out.split("test digit accuracy")[1].split(",")[0])
    even = float(out.split("test even accuracy")[1].split()[0])
    assert digit > 0.85 and even > 0.85
    assert "the same predictions: True" in out
