"""ONNX export (models/onnx_export.py): every layer, the book's models and functional graphs run
in onnxruntime as model.predict does (within 1e-5, after training, at several batch sizes); the
files pass onnx's full check; what cannot be exported says which layer; writes are atomic."""

from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest

from fastnn import activations, layers, models, ops
from fastnn.models.onnx_export import DEFAULT_OPSET, MIN_OPSET, export_onnx
from fastnn.utils import set_random_seed

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (fastnn[onnx])")
ort = pytest.importorskip("onnxruntime", reason="the exported files are run with onnxruntime")

BATCH_SIZES = (1, 7, 64)
ATOL = 1e-5


def _inputs(model, n, rng):
    """Random float32 inputs for model, by input name."""
    return {name: rng.standard_normal((n, *t.shape[1:])).astype(np.float32)
            for name, t in zip(model.input_names, model.inputs)}


def _train(model, rng, steps=3):
    """A few RMSprop steps on random targets, so that no weight (bias included) keeps its
    initial value: the export must read the trained ones."""
    before = model.get_weights()
    x = _inputs(model, 32 * steps, rng)
    y = {name: rng.standard_normal((32 * steps, *t.shape[1:])).astype(np.float32)
         for name, t in zip(model.output_names, model.outputs)}
    model.compile(optimizer="rmsprop", loss="mse")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def _check(model, tmp_path, rng, opset=None, inputs=_inputs):
    """Exports model, checks the file with onnx's full check and the graph's names, and
    compares onnxruntime's outputs with predict's; returns the largest difference seen."""
    path = tmp_path / "model.onnx"
    export_onnx(model, path, opset=opset)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == (opset or DEFAULT_OPSET)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == model.input_names
    assert [o.name for o in session.get_outputs()] == model.output_names
    assert all(i.shape[0] == "batch" for i in session.get_inputs())
    worst = 0.0
    for n in BATCH_SIZES:
        x = inputs(model, n, rng)
        expected = model.predict(x, verbose=0)
        if isinstance(expected, dict):
            expected = [expected[name] for name in model.output_names]
        elif not isinstance(expected, list):
            expected = [expected]
        got = session.run(None, x)
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert g.dtype == np.float32 and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=0, atol=ATOL)
            worst = max(worst, float(np.max(np.abs(g - e))))
    return worst


# ---- the book's models and functional graphs ---------------------------------------------------
def test_the_books_mnist_mlp(tmp_path, rng):
    set_random_seed(0)
    model = models.Sequential([layers.Input(shape=(784,), name="pixels"),
                               layers.Dense(512, activation="relu"), layers.Dropout(0.5),
                               layers.Dense(10, activation="softmax")])
    x = rng.random((64, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert model.input_names == ["pixels"]

    def pixels(model, n, rng):
        return {"pixels": rng.random((n, 784), dtype=np.float32)}
    _check(model, tmp_path, rng, inputs=pixels)
    # Dropout is the identity at inference: it adds no node.
    ops_used = [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert ops_used == ["MatMul", "Add", "Relu", "MatMul", "Add", "Softmax"]


def test_the_books_imdb_mlp(tmp_path, rng):
    set_random_seed(0)
    model = models.Sequential([layers.Input(shape=(10000,)),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])

    def multi_hot(model, n, rng):  # about 200 words of 10,000 per review
        return {model.input_names[0]: (rng.random((n, 10000)) < 0.02).astype(np.float32)}
    x = multi_hot(model, 64, rng)[model.input_names[0]]
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    model.fit(x, rng.integers(0, 2, (64, 1)).astype(np.float32), batch_size=32, verbose=0)
    _check(model, tmp_path, rng, inputs=multi_hot)


def test_a_two_branch_functional_model(tmp_path, rng):
    set_random_seed(0)
    text, meta = layers.Input((12,), name="text"), layers.Input((5,), name="meta")
    a = layers.Dense(8, activation="relu")(text)
    b = layers.Dense(8, activation="tanh")(meta)
    joined = layers.Concatenate()([a, b])
    summed = layers.Add()([a, b])
    priority = layers.Dense(1, activation="sigmoid", name="priority")(joined)
    department = layers.Dense(4, activation="softmax", name="department")(summed)
    model = models.Model([text, meta], [priority, department])
    _train(model, rng)
    _check(model, tmp_path, rng)


def test_dict_inputs_and_outputs_keep_their_keys(tmp_path, rng):
    set_random_seed(0)
    a, b = layers.Input((6,), name="a"), layers.Input((6,), name="b")
    h = layers.Dense(4, activation="relu")(a)
    model = models.Model({"first": a, "second": b},
                         {"sum": layers.Add()([h, layers.Dense(4)(b)]), "hidden": h})
    _train(model, rng)
    assert model.input_names == ["first", "second"]
    _check(model, tmp_path, rng)


def test_shared_layers_nested_models_and_outputs_that_need_an_identity(tmp_path, rng):
    set_random_seed(0)
    inner = models.Sequential([layers.Input((6,)), layers.Dense(6, activation="tanh"),
                               layers.Dropout(0.3)], name="inner")
    shared = layers.Dense(6, activation="relu", name="shared")
    a, b = layers.Input((6,), name="a"), layers.Input((6,), name="b")
    x, y = shared(a), shared(inner(b))
    passthrough = layers.Dropout(0.2, name="passthrough")(b)  # the input itself, renamed
    model = models.Model([a, b], [layers.Subtract(name="diff")([x, y]), y, passthrough, a])
    _train(model, rng)
    assert model.output_names == ["diff", "shared", "passthrough", "a"]
    _check(model, tmp_path, rng)
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    assert [i.name for i in graph.initializer].count("shared/kernel") == 1  # one copy, two calls


# ---- every activation, merge and reshaping layer ------------------------------------------------
ACTIVATIONS = sorted(activations._BY_NAME)  # every name activations.get accepts


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_with_every_activation(tmp_path, rng, activation, use_bias):
    set_random_seed(0)
    model = models.Sequential([layers.Input((9,)),
                               layers.Dense(5, activation=activation, use_bias=use_bias)])
    _train(model, rng)
    _check(model, tmp_path, rng)


@pytest.mark.parametrize("activation", [*ACTIVATIONS, ops.relu, activations.softmax, None],
                         ids=[*ACTIVATIONS, "ops.relu", "activations.softmax", "None"])
def test_activation_layers_on_3d_inputs(tmp_path, rng, activation):
    """Softmax normalises the last axis only; Dense on (batch, 3, 4) is a MatMul per row."""
    set_random_seed(0)
    model = models.Sequential([layers.Input((3, 4)), layers.Dense(5),
                               layers.Activation(activation)])
    _train(model, rng)
    _check(model, tmp_path, rng)


@pytest.mark.parametrize("merge", [layers.Add, layers.Subtract, layers.Multiply, layers.Average,
                                   layers.Concatenate])
def test_merge_layers(tmp_path, rng, merge):
    set_random_seed(0)
    count = 2 if merge is layers.Subtract else 3
    ins = [layers.Input((4,), name=f"x{i}") for i in range(count)]
    branches = [layers.Dense(4, activation="tanh")(x) for x in ins]
    model = models.Model(ins, layers.Dense(2)(merge()(branches)))
    _train(model, rng)
    _check(model, tmp_path, rng)


@pytest.mark.parametrize("merge", [layers.Add, layers.Subtract, layers.Multiply, layers.Average])
def test_merge_layers_broadcast_as_numpy(tmp_path, rng, merge):
    a, b = layers.Input((1, 4), name="a"), layers.Input((3, 1), name="b")
    model = models.Model([a, b], merge()([a, b]))
    assert model.output_shape == (None, 3, 4)
    _check(model, tmp_path, rng)


@pytest.mark.parametrize("axis", [1, 2, -1, -2])
def test_concatenate_along_any_axis(tmp_path, rng, axis):
    a, b = layers.Input((3, 4), name="a"), layers.Input((3, 4), name="b")
    model = models.Model([a, b], layers.Concatenate(axis=axis)([a, b]))
    _check(model, tmp_path, rng)


def test_flatten_and_reshape(tmp_path, rng):
    set_random_seed(0)
    model = models.Sequential([layers.Input((4, 6)), layers.Reshape((3, 8)),
                               layers.Dense(5, activation="relu"), layers.Flatten(),
                               layers.Reshape((-1, 3)), layers.Dense(2), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    assert model.output_shape == (None, 3)
    _train(model, rng)
    _check(model, tmp_path, rng)


def test_axes_of_any_size_and_a_fixed_batch_size_stay_dynamic(tmp_path, rng):
    """An Input's None axes stay free in the graph, and its batch_size, which predict does not
    enforce, does not fix the graph's batch axis either."""
    set_random_seed(0)
    x = layers.Input((None, 4), batch_size=4, name="steps")
    model = models.Model(x, layers.Dense(3, activation="softmax")(layers.Dense(5)(x)))
    # (fit takes no targets with an axis of any size: random weights instead of trained ones)
    model.set_weights([rng.standard_normal(w.shape) for w in model.get_weights()])
    lengths = iter([1, 9, 30])

    def sequences(model, n, rng):
        return {"steps": rng.standard_normal((n, next(lengths), 4)).astype(np.float32)}
    _check(model, tmp_path, rng, inputs=sequences)


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, 21])
def test_opsets(tmp_path, rng, opset):
    model = models.Sequential([layers.Input((3, 4)), layers.Reshape((12,)),
                               layers.Dense(5, activation="softmax")])
    _check(model, tmp_path, rng, opset=opset)


@pytest.mark.parametrize("opset", [12, 10_000, 17.0, "17", True])
def test_bad_opsets(tmp_path, opset):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="opset must be an integer from 13"):
        export_onnx(model, tmp_path / "m.onnx", opset=opset)
    assert list(tmp_path.iterdir()) == []


# ---- what cannot be exported ---------------------------------------------------------------------
class Scale(layers.Layer):
    def call(self, inputs, training=None):
        return ops.multiply(inputs, np.float32(2.0))


class Net(models.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = layers.Dense(2)

    def call(self, inputs, training=False):
        return self.d(inputs)


def _custom_layer():
    x = layers.Input((3,))
    return models.Model(x, layers.Dense(2)(Scale(name="my_scale")(x)))


def _custom_activation():
    x = layers.Input((3,))
    return models.Model(x, layers.Dense(2, activation=lambda t: ops.multiply(t, t),
                                        name="squared")(x))


def _monte_carlo_dropout():
    x = layers.Input((3,))
    return models.Model(x, layers.Dropout(0.5, name="mc")(layers.Dense(2)(x), training=True))


def _subclassed_model():
    net = Net(name="net")
    net(np.zeros((1, 3), np.float32))
    return net


def _subclassed_model_inside_a_graph():
    x = layers.Input((3,))
    return models.Model(x, Net(name="inner_net")(x))


@pytest.mark.parametrize(("build", "message"), [
    (_custom_layer, r"'my_scale' \(Scale\).*custom layer"),
    (_custom_activation, r"'squared' \(Dense\) has the activation '<lambda>'"),
    (_monte_carlo_dropout, r"'mc' \(Dropout\) is called with training=True"),
    (_subclassed_model, r"'net' \(Net\) is a subclassed model"),
    (_subclassed_model_inside_a_graph, r"'inner_net' \(Net\).*subclassed model")])
def test_what_cannot_be_exported_names_the_layer_and_leaves_the_file(tmp_path, build, message):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"the previous export")
    with pytest.raises(NotImplementedError, match=message):
        export_onnx(build(), path)
    assert path.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_an_unbuilt_model_says_so(tmp_path):
    with pytest.raises(ValueError, match="not built yet"):
        export_onnx(models.Sequential([layers.Dense(2)]), tmp_path / "m.onnx")


def test_an_output_named_like_another_input_is_refused(tmp_path):
    a, b = layers.Input((3,), name="a"), layers.Input((3,), name="b")
    model = models.Model([a, b], {"a": layers.Add()([a, b])})
    with pytest.raises(ValueError, match="'a' names both an input and an output"):
        export_onnx(model, tmp_path / "m.onnx")


# ---- the file ---------------------------------------------------------------------------------
def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    before = path.read_bytes()
    model.set_weights([np.full((3, 2), 7.0), np.zeros(2)])

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left
    monkeypatch.undo()
    export_onnx(model, str(path))  # a str path too
    assert path.read_bytes() != before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_replaced_file_keeps_its_permissions(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    path.chmod(0o640)
    export_onnx(model, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_without_onnx_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ImportError, match=r'pip install "fastnn\[onnx\]"'):
        export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_model_export_writes_onnx_and_names_the_formats_it_has(tmp_path):
    model = models.Sequential([layers.Input((6,)), layers.Dense(4, activation="relu"),
                               layers.Dense(2)])
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path))
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    got = session.run(None, {model.input_names[0]: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="format='onnx' only"):
        model.export(tmp_path / "saved", format="tf_saved_model")
