"""Keras 3's .keras files: fastnn -> .keras -> fastnn round trips, files Keras wrote (golden
predictions, tests/data/keras/make_files.py), the file's layout as Keras expects it, and
malformed or hostile files."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py",
                           reason="Keras' .keras format needs h5py (fastnn[keras-format])")

from fastnn import layers, models, optimizers, regularizers  # noqa: E402
from fastnn.models.keras_format import _graph_order, load_keras, save_keras  # noqa: E402
from fastnn.utils import set_random_seed  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "keras"


def two_branch(seed=0):
    """Input(8) -> Dense(16, relu, L2) and Dense(16, tanh); every merge, Reshape, Flatten,
    Activation; Concatenate -> Dense(4)."""
    set_random_seed(seed)
    i = layers.Input((8,))
    a = layers.Dense(16, activation="relu", kernel_regularizer=regularizers.l2(0.01))(i)
    b = layers.Dense(16, activation="tanh", kernel_regularizer=regularizers.l1_l2(0.001, 0.002),
                     kernel_initializer="he_normal")(i)
    d = layers.Subtract()([layers.Average()([layers.Add()([a, b]), layers.Multiply()([a, b])]),
                           a])
    f = layers.Activation("sigmoid")(layers.Flatten()(layers.Reshape((4, 4))(d)))
    return models.Model(i, layers.Dense(4)(layers.Concatenate()([a, b, f])))


def mlp():
    model = models.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                               layers.Dropout(0.5), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def write_members(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def edit_weights(src, dst, edit):
    """dst: src with edit(h5 file) applied to its model.weights.h5."""
    files = members(src)
    buffer = io.BytesIO(files["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        edit(h5)
    files["model.weights.h5"] = buffer.getvalue()
    write_members(dst, files)


def edit_config(src, dst, edit):
    files = members(src)
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    write_members(dst, files)


# ---- round trips ------------------------------------------------------------------------------

def test_sequential_round_trip(tmp_path, blobs):
    x, labels = blobs(n=96)
    model = mlp()
    model.fit(x, labels, epochs=2, batch_size=32, verbose=0)
    save_keras(model, tmp_path / "mlp.keras")
    loaded = load_keras(tmp_path / "mlp.keras")
    assert type(loaded) is models.Sequential
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded._compile_args == ("sparse_categorical_crossentropy", None, ["accuracy"])
    assert loaded.evaluate(x, labels, verbose=0) == \
        pytest.approx(model.evaluate(x, labels, verbose=0))
    loaded.fit(x, labels, epochs=1, verbose=0)  # still trainable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.keras"]  # no temp files left
    assert not load_keras(tmp_path / "mlp.keras", compile=False).compiled


def test_functional_round_trip_keeps_every_setting(tmp_path):
    model = two_branch()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.002), loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    model.fit(x, x[:, :4], epochs=2, verbose=0)
    save_keras(model, tmp_path / "f.keras")
    loaded = load_keras(tmp_path / "f.keras")
    assert type(loaded) is models.Functional
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert {layer.name: layer.get_config() for layer in loaded.layers} == \
        {layer.name: layer.get_config() for layer in model.layers}
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, x[:, :4], verbose=0) == \
        pytest.approx(model.evaluate(x, x[:, :4], verbose=0))


def test_nested_models_shared_layers_and_several_inputs_and_outputs(tmp_path):
    set_random_seed(2)
    inner_seq = models.Sequential([layers.Input((4,)), layers.Dense(3)], name="inner_seq")
    j = layers.Input((3,))
    inner_f = models.Model(j, layers.Dense(2, activation="tanh")(j), name="inner_f")
    p, q = layers.Input((4,), name="p"), layers.Input((4,), name="q")
    shared = layers.Dense(4, name="shared")
    y1 = inner_f(inner_seq(shared(p)))
    y2 = layers.Dense(2, name="other")(inner_seq(shared(q)))
    model = models.Model({"p": p, "q": q}, [y1, layers.Add()([y1, y2])])
    model.compile(optimizer=optimizers.SGD(0.01, momentum=0.9), loss=["mse", "mae"],
                  loss_weights=[1.0, 0.5])
    x = np.random.default_rng(1).standard_normal((16, 4)).astype(np.float32)
    data = {"p": x, "q": x[::-1].copy()}
    save_keras(model, tmp_path / "n.keras")
    loaded = load_keras(tmp_path / "n.keras")
    for got, want in zip(loaded.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_array_equal(got, want)
    assert loaded._compile_args == (["mse", "mae"], [1.0, 0.5], None)


def test_weights_follow_keras_layer_order_not_fastnns(tmp_path):
    """Keras orders layers of equal depth as a walk from the outputs meets them: here the
    Dense made second comes first, and its weights are in layers/dense."""
    i = layers.Input((8,))
    b = layers.Dense(5, name="made_first")(i)
    a = layers.Dense(5, activation="relu", name="made_second")(i)
    model = models.Model(i, layers.Concatenate()([a, b]))
    assert [layer.name for layer in _graph_order(model)] != \
        [layer.name for layer in model.layers]
    save_keras(model, tmp_path / "o.keras")
    with h5py.File(io.BytesIO(members(tmp_path / "o.keras")["model.weights.h5"])) as h5:
        assert h5["layers/dense/vars"].attrs["name"] == "made_second"
        np.testing.assert_array_equal(h5["layers/dense/vars/0"][()], a._node.layer.kernel.numpy())
    x = np.random.default_rng(2).standard_normal((8, 8)).astype(np.float32)
    np.testing.assert_array_equal(load_keras(tmp_path / "o.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_the_file_is_laid_out_as_keras_writes_it(tmp_path, blobs):
    x, labels = blobs(n=64)
    model = mlp()
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, batch_size=32, verbose=0)
    save_keras(model, tmp_path / "m.keras")
    files = members(tmp_path / "m.keras")
    assert list(files) == ["metadata.json", "config.json", "model.weights.h5"]
    assert set(json.loads(files["metadata.json"])) >= {"keras_version", "date_saved"}
    config = json.loads(files["config.json"])
    assert (config["module"], config["class_name"]) == ("keras", "Sequential")
    assert config["build_config"] == {"input_shape": [None, 8]}
    assert [entry["class_name"] for entry in config["config"]["layers"]] == \
        ["InputLayer", "Dense", "Dropout", "Dense"]
    dense = config["config"]["layers"][1]
    assert dense["build_config"] == {"input_shape": [None, 8]}
    assert dense["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    with h5py.File(io.BytesIO(files["model.weights.h5"])) as h5:
        assert h5["vars"].attrs["name"] == model.name
        assert [h5[f"layers/dense/vars/{k}"].shape for k in "01"] == [(8, 16), (16,)]
        assert len(h5["layers/dropout/vars"]) == 0
        opt = h5["optimizer/vars"]
        # iterations, learning rate, then Adam's (momentum, velocity) per weight, interleaved
        assert int(opt["0"][()]) == model.optimizer.iterations == 2
        assert [opt[str(k)].shape for k in range(2, 10)] == \
            [(8, 16), (8, 16), (16,), (16,), (16, 3), (16, 3), (3,), (3,)]
        np.testing.assert_array_equal(opt["2"][()].ravel(), model.optimizer.m[:128])


# ---- files Keras wrote ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sequential", "functional"])
def test_files_written_by_keras_give_keras_predictions(name):
    model = load_keras(DATA / f"{name}.keras")
    x, want = np.load(DATA / f"{name}_x.npy"), np.load(DATA / f"{name}_y.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=0, atol=1e-6)
    assert model.compiled


def test_a_keras_file_keeps_its_compile_settings_and_regularizers():
    model = load_keras(DATA / "functional.keras")
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model._compile_args == ("mse", None, ["mae"])
    assert model.get_layer("made_second").kernel_regularizer.get_config() == \
        {"l1": 0.0, "l2": pytest.approx(0.01)}
    sequential = load_keras(DATA / "sequential.keras")
    assert sequential.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)


# ---- what cannot be saved ---------------------------------------------------------------------

def test_save_refuses_what_keras_cannot_state(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        save_keras(mlp(), tmp_path / "m.h5")
    i = layers.Input((3,))
    custom = models.Model(i, layers.Dense(2, activation=lambda t: t)(i))
    with pytest.raises(ValueError, match="custom activation"):
        save_keras(custom, tmp_path / "c.keras")

    class Sub(models.Model):
        def call(self, inputs, training=None):
            return inputs
    with pytest.raises(NotImplementedError, match="Sub"):
        save_keras(Sub(), tmp_path / "s.keras")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    save_keras(mlp(), path)
    before = path.read_bytes()

    def fail(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        save_keras(two_branch(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_without_h5py_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"fastnn\[keras-format\]"):
        load_keras(tmp_path / "m.keras")
    with pytest.raises(ImportError, match=r"fastnn\[keras-format\]"):
        save_keras(mlp(), tmp_path / "m.keras")


# ---- malformed and hostile files ----------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.keras"
    save_keras(mlp(), path)
    return path


def test_an_unknown_layer_class_is_named_with_the_layer_and_the_file(saved, tmp_path):
    def conv(config):
        config["config"]["layers"][1].update(class_name="Conv2D",
                                             config={"name": "conv", "filters": 3})
    edit_config(saved, tmp_path / "conv.keras", conv)
    with pytest.raises(ValueError, match=r"conv\.keras.*'conv'.*'Conv2D'"):
        load_keras(tmp_path / "conv.keras")


def test_settings_fastnn_cannot_honour_are_refused(saved, tmp_path):
    def constrained(config):
        config["config"]["layers"][1]["config"]["kernel_constraint"] = {"class_name": "NonNeg"}
    edit_config(saved, tmp_path / "c.keras", constrained)
    with pytest.raises(ValueError, match="kernel_constraint"):
        load_keras(tmp_path / "c.keras")

    def half(config):
        config["config"]["layers"][1]["config"]["dtype"] = "float16"
    edit_config(saved, tmp_path / "h.keras", half)
    with pytest.raises(ValueError, match="float32"):
        load_keras(tmp_path / "h.keras")

    def schedule(config):
        config["compile_config"]["optimizer"]["config"]["clipnorm"] = 1.0
    edit_config(saved, tmp_path / "s.keras", schedule)
    with pytest.raises(ValueError, match="clipnorm"):
        load_keras(tmp_path / "s.keras")
    load_keras(tmp_path / "s.keras", compile=False)  # the model itself is fine


@pytest.mark.parametrize("case", ["not a zip", "truncated", "no config", "no weights",
                                  "config not JSON", "weights not HDF5", "a directory"])
def test_malformed_files_raise_value_error_naming_the_file(saved, tmp_path, case):
    path = tmp_path / "bad.keras"
    files = members(saved)
    if case == "not a zip":
        path.write_bytes(b"this is not a zip file at all")
    elif case == "truncated":
        path.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    elif case == "no config":
        del files["config.json"]
        write_members(path, files)
    elif case == "no weights":
        del files["model.weights.h5"]
        write_members(path, files)
    elif case == "config not JSON":
        files["config.json"] = b"{not json"
        write_members(path, files)
    elif case == "weights not HDF5":
        files["model.weights.h5"] = b"\0" * 1000
        write_members(path, files)
    else:
        path.mkdir()
    with pytest.raises(ValueError, match="bad.keras"):
        load_keras(path)


def test_weights_of_the_wrong_shape_or_count_are_refused(saved, tmp_path):
    def reshape(h5):
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars/0"] = np.zeros((8, 15), np.float32)
    edit_weights(saved, tmp_path / "shape.keras", reshape)
    with pytest.raises(ValueError, match=r"shape.keras.*\(8, 15\).*\(8, 16\)"):
        load_keras(tmp_path / "shape.keras")

    def drop(h5):
        del h5["layers/dense_1"]
    edit_weights(saved, tmp_path / "count.keras", drop)
    with pytest.raises(ValueError, match=r"count.keras.*2 weights.*holds 0 in layers/dense_1/vars"):
        load_keras(tmp_path / "count.keras")


def test_links_compression_and_odd_dtypes_in_the_weights_are_refused(saved, tmp_path):
    def soft(h5):
        del h5["layers/dense/vars/1"]
        h5["layers/dense/vars/1"] = h5py.SoftLink("/layers/dense_1/vars/1")
    edit_weights(saved, tmp_path / "soft.keras", soft)
    with pytest.raises(ValueError, match="SoftLink"):
        load_keras(tmp_path / "soft.keras")

    def gzip(h5):
        del h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/1", data=np.zeros(16, np.float32),
                          compression="gzip")
    edit_weights(saved, tmp_path / "gzip.keras", gzip)
    with pytest.raises(ValueError, match="compressed"):
        load_keras(tmp_path / "gzip.keras")

    def text(h5):
        del h5["layers/dense/vars/1"]
        h5["layers/dense/vars/1"] = np.array(["x"] * 16, dtype="S1")
    edit_weights(saved, tmp_path / "text.keras", text)
    with pytest.raises(ValueError, match="integers or floats"):
        load_keras(tmp_path / "text.keras")


def test_a_description_larger_than_its_weights_is_refused_before_allocating(saved, tmp_path):
    def huge(config):
        config["config"]["layers"][1]["config"]["units"] = 1 << 40
    edit_config(saved, tmp_path / "huge.keras", huge)
    with pytest.raises(ValueError, match="more than is left of the weights file"):
        load_keras(tmp_path / "huge.keras")


def test_a_config_larger_than_the_cap_is_not_read(saved, tmp_path):
    files = members(saved)
    with zipfile.ZipFile(tmp_path / "big.keras", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b" " * (65 << 20))  # deflates to ~64 kB
        z.writestr("model.weights.h5", files["model.weights.h5"])
    with pytest.raises(ValueError, match="config.json declares"):
        load_keras(tmp_path / "big.keras")


def test_model_save_and_load_model_take_keras_format_from_the_name(tmp_path):
    from fastnn import callbacks

    model = two_branch()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    assert zipfile.is_zipfile(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    again = models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(again.optimizer).__name__ == "Adam"
    models.save_model(model, str(tmp_path / "n.keras"))
    assert models.load_model(str(tmp_path / "n.keras"), compile=False).compiled is False
    model.save(tmp_path / "m.fnn")  # any other name: fastnn's own format
    assert "__fastnn_config__.npy" in zipfile.ZipFile(tmp_path / "m.fnn").namelist()
    with pytest.raises(ValueError, match="only from a name ending in .keras"):
        model.save(tmp_path / "m.KERAS")
    y = np.zeros((5, 4), np.float32)
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.keras"))])
    np.testing.assert_array_equal(models.load_model(tmp_path / "e2.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_without_h5py_a_keras_path_is_refused_before_any_training(tmp_path, monkeypatch, capsys):
    from fastnn import callbacks
    from fastnn.__main__ import main

    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"fastnn\[keras-format\]"):
        callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.keras"))
    with pytest.raises(SystemExit) as status:
        main(["train", "--epochs", "1", "--save", str(tmp_path / "m.keras")])
    assert status.value.code == 2
    err = capsys.readouterr().err
    assert "fastnn[keras-format]" in err and "Epoch" not in err
    assert list(tmp_path.iterdir()) == []
