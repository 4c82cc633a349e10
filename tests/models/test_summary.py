"""model.summary(): Keras' columns, 'Connected to' for graphs, totals with their size, and how
the model runs."""

from __future__ import annotations

from fastnn import layers, models
from fastnn.models.summary import readable_size


def lines_of(model):
    out = []
    model.summary(print_fn=out.append)
    return out


def test_a_sequential_summary():
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], name="mlp")
    model.layers[1].trainable = False
    out = lines_of(model)
    text = "\n".join(out)
    assert out[0] == 'Model: "mlp"'
    assert out[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert "Connected to" not in text and "InputLayer" not in text
    row = next(line for line in out if line.startswith("dense") and "512" in line)
    assert row.split()[2:] == ["(None,", "512)", "401,920"]
    assert "Total params: 407,050 (1.55 MB)" in out
    assert "Trainable params: 401,920 (1.53 MB)" in out
    assert "Non-trainable params: 5,130 (20.04 KB)" in out
    assert "predict: compiled (one C++ call per batch)" in out
    assert all(len(line) <= 65 for line in out)


def test_a_graph_shows_what_each_layer_is_connected_to():
    a, b = layers.Input((4,), name="a"), layers.Input((3,), name="b")
    shared = layers.Dense(5, name="shared")
    xa = shared(layers.Dense(4, name="da")(a))
    xb = shared(layers.Dense(4, name="db")(b))
    model = models.Model([a, b], layers.Concatenate(name="cat")([xa, xb]))
    out = lines_of(model)
    text = "\n".join(out)
    assert "Connected to" in out[2]
    assert "a (InputLayer)" in text
    shared_lines = [line for line in out if "shared" in line]
    assert "da[0][0]" in shared_lines[0] and "db[0][0]" in "\n".join(out)
    cat = next(line for line in out if line.startswith("cat (Concatenate)"))
    assert "shared[0][0]" in cat
    assert "shared[1][0]" in text
    assert all(len(line) <= 98 for line in out)


def test_sizes_in_keras_units():
    assert readable_size(420) == "420.00 B"
    assert readable_size(4 * 25450) == "99.41 KB"
    assert readable_size(3 * 1024 ** 3) == "3.00 GB"
