"""The functional API: the book's listing, several inputs and outputs with a shared layer and a
merge (per-output logs, gradients against finite differences on both paths), the same training
as a Sequential, nested models, dicts, and graph errors."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import layers, models, optimizers
from fastnn.testing import gradcheck
from fastnn.utils import set_random_seed, to_categorical


def test_the_books_functional_listing_learns_the_sample():
    """Chapter 2's functional listing, typed as printed (only the import line changed),
    compiled with categorical cross-entropy: >= 0.90 on the official test set."""
    from fastnn.datasets import mnist

    set_random_seed(0)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_sample()
    train = train_images.reshape((len(train_images), 28 * 28)).astype("float32") / 255
    test = test_images.reshape((len(test_images), 28 * 28)).astype("float32") / 255

    input_tensor = layers.Input(shape=(784,))
    x = layers.Dense(32, activation='relu')(input_tensor)
    output_tensor = layers.Dense(10, activation='softmax')(x)
    model = models.Model(inputs=input_tensor, outputs=output_tensor)
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        optimizer = optimizers.RMSprop(lr=0.001)
    model.compile(optimizer=optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
    assert model.execution_plan()["fit"].startswith("compiled")
    model.fit(train, to_categorical(train_labels), batch_size=128, epochs=10, verbose=0)
    loss, acc = model.evaluate(test, to_categorical(test_labels), verbose=0)
    assert acc >= 0.90, acc


def two_in_two_out():
    a = layers.Input((6,), name="a")
    b = layers.Input((5,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    xa = shared(layers.Dense(4, name="from_a")(a))
    xb = shared(layers.Dense(4, name="from_b")(b))
    joined = layers.Concatenate(name="joined")([xa, xb])
    cls = layers.Dense(3, activation="softmax", name="cls")(joined)
    reg = layers.Dense(2, name="reg")(joined)
    return models.Model(inputs=[a, b], outputs=[cls, reg])


def batch(n=40, seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.standard_normal((n, 6)).astype(np.float32)
    xb = rng.standard_normal((n, 5)).astype(np.float32)
    y_cls = (xa[:, 0] > 0).astype(np.int64) + (xb[:, 0] > 0)
    y_reg = np.stack([xa[:, 1] + xb[:, 1], xa[:, 2]], axis=1).astype(np.float32)
    return [xa, xb], [y_cls, y_reg]


@pytest.mark.parametrize("eager", [False, True])
def test_two_inputs_two_outputs_a_shared_layer_and_a_merge_train_with_fit(eager):
    set_random_seed(2)
    model = two_in_two_out()
    model.compile(optimizer=optimizers.Adam(0.02), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]], run_eagerly=eager)
    x, y = batch(400)
    h = model.fit(x, y, epochs=15, batch_size=32, verbose=0, validation_split=0.2)
    assert list(h.history) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae",
                               "val_loss", "val_cls_loss", "val_reg_loss", "val_cls_accuracy",
                               "val_reg_mae"]
    np.testing.assert_allclose(h.history["loss"], np.array(h.history["cls_loss"]) +
                               0.5 * np.array(h.history["reg_loss"]), rtol=1e-6)
    assert h.history["cls_loss"][-1] < h.history["cls_loss"][0] / 2
    assert h.history["reg_mae"][-1] < h.history["reg_mae"][0] / 2
    assert h.history["cls_accuracy"][-1] > 0.8
    assert len(model.get_layer("shared").weights) == 2  # one kernel for both calls
    p_cls, p_reg = model.predict(x)
    assert p_cls.shape == (400, 3) and p_reg.shape == (400, 2)


def test_the_shared_layers_gradients_pass_gradcheck_on_both_paths():
    """The total loss' gradient with respect to every weight (the shared layer's is the sum of
    its two uses) against float64 central differences, from the tape and from the program."""
    x, y = batch()
    for eager in (False, True):
        set_random_seed(3)
        model = two_in_two_out()
        model.compile(optimizer=optimizers.SGD(0.0),
                      loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                      run_eagerly=eager)
        model.test_on_batch(x, y)  # builds the plan (and the program's flat weights)
        weights = model.trainable_weights

        def fn(*values):
            for v, w in zip(weights, values):
                v.assign(w)
            if eager:
                import fastnn
                from fastnn import ops

                with fastnn.GradientTape() as tape:
                    cls, reg = model(x, training=True)
                    scce = fastnn.losses.sparse_categorical_crossentropy(y[0], cls)
                    loss = ops.add(ops.mean(scce),
                                   ops.multiply(ops.mean(fastnn.losses.mse(y[1], reg)), 0.5))
                return float(loss), tape.gradient(loss, weights)
            loss = model.train_on_batch(x, y)[0]  # SGD(0): a step that changes nothing
            grads = model._current_plan().weights.grads
            offsets = model._current_plan().weights.offsets
            return loss, [grads[offsets[id(v)]:offsets[id(v)] + v.size].reshape(v.shape).copy()
                          for v in weights]
        gradcheck(fn, [w.numpy() for w in weights], eps=1e-3, rtol=2e-2, atol=2e-4)


def test_a_sequential_and_the_same_functional_model_train_to_identical_weights():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    y = rng.integers(0, 5, 300)
    weights = []
    for functional in (False, True):
        set_random_seed(9)
        if functional:
            i = layers.Input((20,))
            h = layers.Dropout(0.2)(layers.Dense(16, activation="relu")(i))
            model = models.Model(i, layers.Dense(5, activation="softmax")(h))
        else:
            model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(20,)),
                                       layers.Dropout(0.2), layers.Dense(5, activation="softmax")])
        model.compile("rmsprop", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("eager", [False, True])
def test_dicts_of_inputs_and_outputs(eager):
    a, b = layers.Input((3,), name="left"), layers.Input((2,), name="right")
    h = layers.Concatenate()([a, b])
    model = models.Model({"left": a, "right": b},
                         {"score": layers.Dense(1, name="s")(h),
                          "kind": layers.Dense(2, activation="softmax")(h)})
    assert model.input_names == ["left", "right"] and model.output_names == ["score", "kind"]
    model.compile("adam", loss={"score": "mse", "kind": "sparse_categorical_crossentropy"},
                  loss_weights={"kind": 2.0}, metrics={"kind": "accuracy"}, run_eagerly=eager)
    rng = np.random.default_rng(0)
    x = {"left": rng.standard_normal((20, 3)), "right": rng.standard_normal((20, 2))}
    y = {"score": rng.standard_normal(20), "kind": rng.integers(0, 2, 20)}
    h = model.fit(x, y, epochs=2, verbose=0)
    assert set(h.history) == {"loss", "score_loss", "kind_loss", "kind_accuracy"}
    out = model.predict(x)
    assert set(out) == {"score", "kind"} and out["kind"].shape == (20, 2)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    total = result["score_loss"] + 2.0 * result["kind_loss"]
    assert result["loss"] == pytest.approx(total, rel=1e-6)
    with pytest.raises(ValueError, match="keys"):
        model.predict({"left": x["left"]})


def test_a_model_used_as_a_layer():
    inner = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu")],
                              name="inner")
    i = layers.Input((4,))
    outer = models.Model(i, layers.Dense(1)(inner(i)))
    assert [layer.name for layer in outer.layers][1] == "inner"
    assert len(outer.weights) == 4 and outer.weights[0] is inner.weights[0]
    outer.compile("sgd", "mse")
    assert outer.execution_plan()["fit"].startswith("compiled")
    x = np.ones((5, 4), np.float32)
    before = inner.get_weights()[0].copy()
    outer.fit(x, np.ones(5), epochs=2, verbose=0)
    assert np.any(inner.get_weights()[0] != before)  # training the outer model moves the inner


def test_layers_inputs_outputs_and_shapes():
    model = two_in_two_out()
    # Keras' order: by depth in the graph, so both inputs first
    assert [layer.name for layer in model.layers] == ["a", "b", "from_a", "from_b", "shared",
                                                      "joined", "cls", "reg"]
    assert isinstance(model.layers[0], layers.InputLayer)  # functional models list their inputs
    assert model.input_shape == [(None, 6), (None, 5)]
    assert model.output_shape == [(None, 3), (None, 2)]
    assert model.get_layer("cls").units == 3 and model.get_layer(index=-1).name == "reg"
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")


def test_graph_errors():
    a, b = layers.Input((3,)), layers.Input((3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        models.Model(a, layers.Add()([a, b]))
    h = layers.Dense(2)(a)
    with pytest.raises(ValueError, match="must come from layers.Input"):
        models.Model(h, layers.Dense(1)(h))
    with pytest.raises(TypeError, match="symbolic tensors"):
        models.Model(a, np.ones(3))
    with pytest.raises(ValueError, match="unique"):
        models.Model(a, layers.Dense(2, name="twin")(layers.Dense(2, name="twin")(a)))


def test_config_round_trip_and_clone():
    set_random_seed(5)
    model = two_in_two_out()
    twin = type(model).from_config(model.get_config())
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    twin.set_weights(model.get_weights())
    x, _ = batch()
    for p, q in zip(model.predict(x), twin.predict(x)):
        np.testing.assert_array_equal(p, q)
    clone = models.clone_model(model)
    kernels = zip(clone.get_weights()[::2], model.get_weights()[::2])
    assert all(not np.array_equal(a, b) for a, b in kernels)
    assert len(clone.weights) == len(model.weights)


def test_models_that_share_layers_see_each_others_training():
    """An encoder in two models (Keras' autoencoder + classifier pattern): each model's compiled
    program keeps the weights in its own buffer, and takes them back when the other moved them."""
    set_random_seed(6)
    i = layers.Input((6,))
    encoder = layers.Dense(4, activation="tanh", name="encoder")
    code = encoder(i)
    autoencoder = models.Model(i, layers.Dense(6, name="decoder")(code))
    classifier = models.Model(i, layers.Dense(2, activation="softmax", name="head")(code))
    autoencoder.compile("adam", "mse")
    classifier.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    for _ in range(3):
        before = encoder.get_weights()[0]
        classifier.fit(x, y, epochs=1, verbose=0)
        moved = encoder.get_weights()[0]
        assert not np.array_equal(before, moved)
        w, b = autoencoder.get_layer("decoder").get_weights()
        reference = np.tanh(x @ moved + encoder.get_weights()[1]) @ w + b
        np.testing.assert_allclose(autoencoder.predict(x), reference, rtol=1e-4, atol=1e-5)
        autoencoder.fit(x, x, epochs=1, verbose=0)
        assert not np.array_equal(encoder.get_weights()[0], moved)
    assert classifier.execution_plan()["fit"].startswith("compiled")


def test_freezing_a_whole_model_freezes_its_layers():
    i = layers.Input((3,))
    inner = layers.Dense(4)
    model = models.Model(i, layers.Dense(2)(inner(i)))
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    assert not inner.trainable
    model.trainable = True
    assert len(model.trainable_weights) == 4
