"""Saving and loading: Sequential, functional models with several outputs and shared layers,
compile settings, files of format version 1, custom objects, atomic and hostile files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastnn import layers, losses, models, optimizers, regularizers
from fastnn.utils import set_random_seed

DATA = Path(__file__).resolve().parents[1] / "data"


def test_sequential_round_trip(tmp_path, blobs):
    x, labels = blobs(n=120)
    model = models.Sequential([layers.Dense(16, activation="tanh", input_shape=(8,),
                                            kernel_regularizer=regularizers.l1_l2()),
                               layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.002),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, verbose=0)
    path = tmp_path / "model.fnn"
    model.save(path)
    loaded = models.load_model(path)
    assert type(loaded) is models.Sequential
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, labels, verbose=0) == \
        pytest.approx(model.evaluate(x, labels, verbose=0))
    loaded.fit(x, labels, epochs=1, verbose=0)  # still trainable
    assert [p for p in tmp_path.iterdir() if p.name != "model.fnn"] == []  # no temp files left


def test_functional_models_with_several_outputs_and_a_shared_layer(tmp_path, blobs):
    set_random_seed(1)
    a, b = layers.Input((8,), name="a"), layers.Input((8,), name="b")
    shared = layers.Dense(5, activation="relu", name="shared")
    joined = layers.Concatenate()([shared(a), shared(b), layers.Subtract()([a, b])])
    model = models.Model({"a": a, "b": b}, [layers.Dense(3, activation="softmax", name="c")(joined),
                                             layers.Dense(1, name="r")(joined)])
    model.compile("rmsprop", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1, 0.3],
                  metrics=[["accuracy"], []])
    x, labels = blobs(n=120)
    data = {"a": x, "b": x[::-1].copy()}
    model.fit(data, [labels, x[:, :1]], epochs=2, verbose=0)
    model.save(tmp_path / "f.fnn")
    loaded = models.load_model(tmp_path / "f.fnn")
    assert type(loaded) is models.Functional
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert len(loaded.get_layer("shared").weights) == 2
    for p, q in zip(model.predict(data), loaded.predict(data)):
        np.testing.assert_array_equal(p, q)
    assert loaded.evaluate(data, [labels, x[:, :1]], verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(data, [labels, x[:, :1]], verbose=0, return_dict=True))


def test_nested_models_and_unbuilt_ones(tmp_path):
    inner = models.Sequential([layers.Input((4,)), layers.Dense(3)], name="inner")
    i = layers.Input((4,))
    outer = models.Model(i, layers.Dense(2)(inner(i)))
    outer.save(tmp_path / "n.fnn")
    loaded = models.load_model(tmp_path / "n.fnn")
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), outer.predict(x))
    lazy = models.Sequential([layers.Dense(2)])
    lazy.save(tmp_path / "lazy.fnn")
    assert not models.load_model(tmp_path / "lazy.fnn").built


@pytest.mark.parametrize("name", ["v1_sequential", "v1_uncompiled"])
def test_files_of_format_version_1_still_load(name):
    """Written by fastnn 0.1 (before the functional API), with their predictions (made on the
    AVX-512 path: the other paths round differently in the last bits)."""
    model = models.load_model(DATA / f"{name}.fnn")
    x = np.load(DATA / "v1_sequential_x.npy")
    x = x if name == "v1_sequential" else x[:, :3]
    np.testing.assert_allclose(model.predict(x), np.load(DATA / f"{name}_y.npy"),
                               rtol=1e-5, atol=1e-6)
    if name == "v1_sequential":
        assert model.compiled and type(model.optimizer) is optimizers.Adam
        assert model.optimizer.learning_rate == 0.002
        assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]
        assert model.layers[0].kernel_regularizer.l2 == 0.01


def test_custom_objects(tmp_path):
    class Doubler(layers.Layer):
        def call(self, inputs, training=None):
            return inputs * 2.0

    def half_mse(y_true, y_pred):
        return losses.mean_squared_error(y_true, y_pred) * 0.5

    i = layers.Input((3,))
    model = models.Model(i, layers.Dense(1)(Doubler()(i)))
    model.compile("sgd", half_mse)
    model.save(tmp_path / "c.fnn")
    with pytest.raises(ValueError, match="Unknown layer: 'Doubler'"):
        models.load_model(tmp_path / "c.fnn")
    with pytest.raises(ValueError, match="Unknown loss: 'half_mse'"):
        models.load_model(tmp_path / "c.fnn", custom_objects={"Doubler": Doubler})
    loaded = models.load_model(tmp_path / "c.fnn", custom_objects={"Doubler": Doubler,
                                                                   "half_mse": half_mse})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.loss is half_mse


def test_corrupt_truncated_foreign_and_newer_files(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    good = tmp_path / "good.fnn"
    model.save(good)
    raw = good.read_bytes()
    (tmp_path / "truncated.fnn").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "foreign.fnn").write_bytes(b"\x89HDF\r\n\x1a\n not ours")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    for name in ("truncated.fnn", "foreign.fnn", "other.npz"):
        with pytest.raises(ValueError, match="not a .*fastnn model file"):
            models.load_model(tmp_path / name)
    config = json.loads(bytes(np.load(good)["__fastnn_config__"]).decode())
    config["version"] = 99
    with open(tmp_path / "newer.fnn", "wb") as f:
        np.savez(f, __fastnn_config__=np.frombuffer(json.dumps(config).encode(), np.uint8),
                 weight_0=np.ones((3, 2), np.float32), weight_1=np.ones(2, np.float32))
    with pytest.raises(ValueError, match="version 99, which is newer"):
        models.load_model(tmp_path / "newer.fnn")
    config["version"] = 2
    with open(tmp_path / "short.fnn", "wb") as f:
        np.savez(f, __fastnn_config__=np.frombuffer(json.dumps(config).encode(), np.uint8),
                 weight_0=np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="holds 1 weight arrays, fewer than the model creates"):
        models.load_model(tmp_path / "short.fnn")
    with pytest.raises(FileNotFoundError):
        models.load_model(tmp_path / "missing.fnn")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = tmp_path / "m.fnn"
    model.save(path)
    before = path.read_bytes()
    model.set_weights([np.full((3, 2), 7.0), np.zeros(2)])

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.fnn"]


def test_a_subclassed_model_says_how_to_save_it(tmp_path):
    class Net(models.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, inputs, training=False):
            return self.d(inputs)

    with pytest.raises(NotImplementedError, match="define get_config"):
        Net().save(tmp_path / "s.fnn")


@pytest.mark.parametrize("name", ["model.h5", "MODEL.H5", "model.hdf5", "Model.HDF5"])
def test_keras_legacy_hdf5_extensions_are_refused(tmp_path, name):
    from fastnn import callbacks

    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    stem, suffix = name.rsplit(".", 1)
    for save in (model.save, lambda path: models.save_model(model, path)):
        with pytest.raises(ValueError, match=rf"does not write Keras' legacy HDF5 "
                                             rf"\.{suffix.lower()} files") as err:
            save(tmp_path / name)
        for other in (".keras", ".fnn"):  # the formats fastnn writes, named
            assert str(tmp_path / (stem + other)) in str(err.value)
    with pytest.raises(ValueError, match="legacy HDF5"):  # at once, not after an epoch
        callbacks.ModelCheckpoint(str(tmp_path / ("{epoch:02d}-" + name)))
    assert list(tmp_path.iterdir()) == []
    model.save(tmp_path / "model.h5.fnn")  # the last extension is the one that counts
