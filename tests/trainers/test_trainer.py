"""The trainer every model shares: what compile takes per output, what fit, evaluate and the
*_on_batch methods return (Keras' values and names), sample and class weights as Keras weighs
them, validation and resuming."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import layers, models, optimizers
from fastnn.utils import set_random_seed


def regression_model(units=1):
    set_random_seed(0)
    return models.Sequential([layers.Input((4,)), layers.Dense(units)])


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, rng.standard_normal((n, 1)).astype(np.float32)


@pytest.mark.parametrize("eager", [False, True])
def test_return_values_are_keras(eager):
    x, y = data()
    model = regression_model()
    model.compile("sgd", "mse", run_eagerly=eager)
    per_sample = ((model.predict(x) - y) ** 2).mean(-1)
    loss = model.evaluate(x, y, verbose=0)
    assert type(loss) is float and loss == pytest.approx(per_sample.mean(), rel=1e-6)
    assert model.test_on_batch(x, y) == pytest.approx(loss, rel=1e-6)
    before = model.train_on_batch(x, y)  # the loss before the step
    assert before == pytest.approx(loss, rel=1e-6)
    assert model.test_on_batch(x, y) < before
    model.compile("sgd", "mse", metrics=["mae"], run_eagerly=eager)
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2 and all(type(v) is float for v in values)
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss", "mae"]
    assert list(model.train_on_batch(x, y, return_dict=True)) == ["loss", "mae"]
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))


@pytest.mark.parametrize("eager", [False, True])
def test_sample_and_class_weights_weigh_the_loss_as_keras(eager):
    """Keras: loss = sum(w_i l_i) / n (the weights are not normalised); metrics unweighted."""
    x, y = data()
    model = regression_model()
    model.compile("sgd", "mse", metrics=["mae"], run_eagerly=eager)
    p = model.predict(x)
    per = ((p - y) ** 2).mean(-1)
    w = np.array([1, 2, 0, 0, 1, 1, 5, 0], np.float32)
    loss, mae = model.evaluate(x, y, sample_weight=w, batch_size=3, verbose=0)
    assert loss == pytest.approx((per * w).sum() / 8, rel=1e-5)
    assert mae == pytest.approx(np.abs(p - y).mean(), rel=1e-5)
    clf = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    clf.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=eager)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    probs = clf.predict(x)
    ce = -np.log(probs[np.arange(8), labels])
    cw = np.array([2.0, 1.0, 0.5])[labels]
    h = clf.fit(x, labels, batch_size=8, epochs=1, verbose=0, class_weight={0: 2.0, 1: 1.0, 2: 0.5})
    assert h.history["loss"][0] == pytest.approx((ce * cw).sum() / 8, rel=1e-5)
    with pytest.raises(ValueError, match="no weight for the classes"):
        clf.fit(x, labels, verbose=0, class_weight={0: 1.0})


def two_outputs():
    i = layers.Input((4,))
    h = layers.Dense(5, activation="relu")(i)
    return models.Model(i, [layers.Dense(3, activation="softmax", name="cls")(h),
                            layers.Dense(1, name="reg")(h)])


def test_several_outputs_are_named_as_keras_names_them():
    x, y = data(16)
    labels = np.arange(16) % 3
    model = two_outputs()
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]])
    result = model.train_on_batch(x, [labels, y], return_dict=True)
    assert list(result) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    values = model.test_on_batch(x, [labels, y])
    assert len(values) == 5 and values[0] == pytest.approx(values[1] + values[2], rel=1e-6)
    model.compile("adam", "mse")  # one loss for every output
    assert model.evaluate(x, [np.eye(3)[labels], y], verbose=0, return_dict=True).keys() == \
        {"loss", "cls_loss", "reg_loss"}
    model.compile("adam", {"cls": "sparse_categorical_crossentropy"})  # reg has no loss
    h = model.fit(x, {"cls": labels}, verbose=0)
    assert list(h.history) == ["loss"]  # one output's loss is the loss


def test_compile_argument_errors():
    model = two_outputs()
    with pytest.raises(ValueError, match="compile needs a loss"):
        model.compile("adam")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile("adam", "mse", metrics=["f1ish"])
    model.compile("adam", ["mse"])
    with pytest.raises(ValueError, match="a list of 1 for a model with 2 outputs"):
        model.execution_plan()
    model.compile("adam", {"other": "mse"})
    with pytest.raises(ValueError, match=r"names outputs \['other'\]"):
        model.execution_plan()
    model.compile("adam", "mse", metrics=["mae"])
    with pytest.raises(ValueError, match="list of lists"):
        model.execution_plan()
    model.compile("adam", [None, None])
    with pytest.raises(ValueError, match="no output has a loss"):
        model.execution_plan()
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match="the output 'reg' has a loss but no targets"):
        model.fit(data()[0], {"cls": np.zeros(8)}, verbose=0)


def test_validation_resuming_and_frequency():
    x, y = data(40)
    model = regression_model()
    model.compile("sgd", "mse")
    w = np.ones(10, np.float32)
    h = model.fit(x[:30], y[:30], epochs=4, verbose=0, validation_data=(x[30:], y[30:], w),
                  validation_freq=2)
    assert len(h.history["loss"]) == 4 and len(h.history["val_loss"]) == 2
    assert model.optimizer.iterations == 4
    h = model.fit(x, y, epochs=6, initial_epoch=4, verbose=0)
    assert h.epoch == [4, 5] and model.optimizer.iterations == 4 + 2 * 2  # 40 rows: 2 batches
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        model.fit(x, y, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="leaves no training or no validation"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)


def test_run_eagerly_switches_the_path():
    model = regression_model()
    model.compile(optimizers.SGD(0.1), "mse")
    assert not model.run_eagerly and model.execution_plan()["fit"].startswith("compiled")
    model.run_eagerly = True
    assert model.execution_plan()["fit"] == "op by op: run_eagerly=True"
    x, y = data()
    model.fit(x, y, verbose=0)  # and it trains
    with pytest.raises(RuntimeError, match=r"compile\(\) before evaluate"):
        regression_model().evaluate(x, y)
    with pytest.raises(ValueError, match="not built yet"):
        models.Sequential([layers.Dense(2)]).execution_plan()


def test_threads_predicting_with_a_new_model_agree_with_one_thread():
    """The first calls make the plan (moving the weights into its buffer): one thread at a time."""
    import threading

    x = np.random.default_rng(3).standard_normal((300, 4)).astype(np.float32)
    expected = regression_model(5).predict(x)
    for _ in range(5):
        model = regression_model(5)
        results, errors = [], []

        def work():
            try:
                results.append(model.predict(x))
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(results) == 4
        for r in results:
            np.testing.assert_array_equal(r, expected)
