"""Callbacks: EarlyStopping, ModelCheckpoint, TerminateOnNaN and the History on real training;
the progress output on terminals of several widths, with tqdm and without; History.plot."""

from __future__ import annotations

import io
import math
import re
import sys
import types

import numpy as np
import pytest

from fastnn import callbacks, layers, models, optimizers
from fastnn.utils import set_random_seed


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1234)


def softmax_model():
    return models.Sequential([layers.Dense(3, activation="softmax", input_shape=(8,))])


def test_early_stopping_patience_and_restore_best_weights(blobs):
    x, labels = blobs()
    model = softmax_model()
    # A zero learning rate: the loss changes only by rounding (batch order), never by min_delta.
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[stop])
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2

    # Maximising a falling loss makes epoch 0 the best: its weights must come back.
    snapshots = []

    class Snapshot(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    stop = callbacks.EarlyStopping(monitor="loss", mode="max", patience=1,
                                   restore_best_weights=True)
    h = model.fit(x, labels, epochs=50, verbose=0, callbacks=[Snapshot(), stop])
    assert h.epoch == [0, 1] and h.history["loss"][1] < h.history["loss"][0]
    for got, want in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_and_terminate_on_nan(tmp_path, blobs):
    x, labels = blobs(n=60)
    model = softmax_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.fnn"), monitor="loss",
                                     save_best_only=True)
    model.fit(x, labels, epochs=3, batch_size=20, verbose=0, callbacks=[ckpt])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and saved[0] == "m-01.fnn"
    np.testing.assert_allclose(models.load_model(tmp_path / saved[-1]).predict(x),
                               model.predict(x), rtol=1e-6, atol=1e-7)
    bad = x.copy()
    bad[5, 0] = np.nan
    h = model.fit(bad, labels, epochs=5, batch_size=20, verbose=0, shuffle=False,
                  callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.epoch) == 1 and math.isnan(h.history["loss"][0])


def test_history_keeps_floats_per_epoch_and_fit_returns_it(blobs):
    x, labels = blobs(n=60)
    model = softmax_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, labels, epochs=3, verbose=0, validation_split=0.25)
    assert h is model.history and h.epoch == [0, 1, 2]
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(type(v) is float for values in h.history.values() for v in values)


# ---- progress output -----------------------------------------------------------------------------
TRAIN = {"loss": 0.5, "accuracy": 0.8}
EPOCH = {**TRAIN, "val_loss": 0.4, "val_accuracy": 0.9}
TRAIN_TEXT = "loss: 0.5000 - accuracy: 0.8000"
EPOCH_TEXT = TRAIN_TEXT + " - val_loss: 0.4000 - val_accuracy: 0.9000"


class Terminal(io.StringIO):
    """stdout as on a terminal, so that the bars draw live frames."""

    def isatty(self):
        return True


@pytest.fixture(params=["plain", "tqdm"])
def bar_kind(request, monkeypatch):
    """Each progress test runs with the plain bar and with tqdm's (skipped without tqdm)."""
    if request.param == "tqdm":
        tqdm = pytest.importorskip("tqdm", reason="tqdm is optional; its bar is tested with it")
        clock = iter(range(10**9)).__next__  # a second per reading: tqdm draws every update
        monkeypatch.setattr(tqdm.std, "time", lambda: float(clock()))
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    callbacks._tqdm_class.cache_clear()
    yield request.param
    callbacks._tqdm_class.cache_clear()


@pytest.fixture
def terminal(monkeypatch):
    """Calls to ``terminal(columns)`` give a fresh fake terminal of that width as stdout."""
    ticks = iter(range(10**9)).__next__
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(perf_counter=lambda: ticks() / 8))

    def make(columns, tty=True):
        monkeypatch.setenv("COLUMNS", str(columns))
        out = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        return out
    return make


def run_bar(verbose=1, epochs=2, steps=469, train=TRAIN, epoch_logs=EPOCH):
    bar = callbacks.ProgressBar(verbose, epochs, steps)
    for epoch in range(epochs):
        bar.on_epoch_begin(epoch)
        for batch in range(steps):
            bar.on_train_batch_end(batch, dict(train))
        bar.on_epoch_end(epoch, dict(epoch_logs))


def epochs_of(text):
    """What stays on the screen per epoch: the lines after each 'Epoch i/n', each as its last
    frame (a carriage return draws over the frame before)."""
    screen = [line.split("\r")[-1].rstrip() for line in text.split("\n")]
    blocks, current = [], None
    for line in screen:
        if line.startswith("Epoch "):
            current = []
            blocks.append(current)
        elif line and current is not None:
            current.append(line)
    return blocks


def metric_text(lines):
    """The metrics of an epoch's final line(s): what follows the head, wrapped lines joined."""
    return " - ".join(lines)[" - ".join(lines).index("loss: "):]


@pytest.mark.parametrize("columns", [200, 80, 40, 24])
def test_progress_lines_fit_the_terminal_and_end_with_every_metric(bar_kind, terminal, columns):
    out = terminal(columns)
    run_bar()
    text = out.getvalue()
    frames = text.replace("\r", "\n").split("\n")
    assert max(len(f) for f in frames) < columns  # the last column too is left free
    live = [f for f in frames if "loss" in f and "val_" not in f]
    assert len(live) > 2, text[:500]  # the bar was drawn live
    blocks = epochs_of(text)
    assert len(blocks) == 2
    for lines in blocks:
        assert metric_text(lines) == EPOCH_TEXT  # every metric, whole, in the order logged
        if columns >= 80:
            assert len(lines) == 1
    # One format: live frames show the metric text of the final line, or as many whole
    # metrics of it as fit, then '...'.
    for frame in live:
        shown = frame[frame.index("loss: "):].rstrip()
        assert TRAIN_TEXT.startswith(shown.rstrip(". -")) and shown.endswith(("0", "...")), frame
    assert "=0.5" not in text and ", loss" not in text  # not tqdm's own postfix format


def test_the_bar_shrinks_then_goes_before_a_metric_moves(bar_kind, terminal):
    out = terminal(80)
    run_bar(epoch_logs=TRAIN)  # the book's Fashion-MNIST run: 469 steps, loss and accuracy
    for (line,) in epochs_of(out.getvalue()):
        assert line.endswith(" - " + TRAIN_TEXT) and len(line) < 80
        assert "469/469 [===" in line or "100%|" in line  # a bar still, at 80 columns
    out = terminal(50)
    run_bar(epoch_logs=TRAIN)
    for (line,) in epochs_of(out.getvalue()):
        assert line.endswith(TRAIN_TEXT) and "=" not in line and "|" not in line


def test_a_name_wider_than_the_terminal_is_split_not_cut(terminal, bar_kind):
    out = terminal(20)
    run_bar(epochs=1, steps=3, epoch_logs={"loss": 0.5, "a_rather_long_metric_name": 0.25})
    (lines,) = epochs_of(out.getvalue())
    assert all(len(line) < 20 for line in lines)
    assert "".join(lines[-2:]) in ("a_rather_long_metric_name:0.2500",
                                   "a_rather_long_metric_name: 0.2500")
    assert "".join(lines).count("0.2500") == 1


def test_not_a_terminal_gets_the_final_line_of_each_epoch_only(terminal, bar_kind):
    out = terminal(80, tty=False)
    run_bar()
    assert "\r" not in out.getvalue()
    assert out.getvalue().splitlines() == ["Epoch 1/2", EPOCH_TEXT, "Epoch 2/2", EPOCH_TEXT]


@pytest.mark.parametrize("columns", [200, 40])
def test_verbose_2_is_one_line_per_epoch_that_fits(terminal, columns):
    out = terminal(columns)
    run_bar(verbose=2)
    lines = out.getvalue().splitlines()
    assert all(len(line) < columns for line in lines) and "\r" not in out.getvalue()
    assert lines[0].startswith("Epoch 1/2") and metric_text(lines[:len(lines) // 2]) == EPOCH_TEXT
    if columns == 200:
        assert [re.sub(r"\d+\.\ds", "T", line) for line in lines] == [
            f"Epoch 1/2 - T - {EPOCH_TEXT}", f"Epoch 2/2 - T - {EPOCH_TEXT}"]


def test_fit_with_validation_data_on_an_80_column_terminal(bar_kind, terminal, blobs):
    x, labels = blobs(n=600)
    model = softmax_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = terminal(80)
    h = model.fit(x, labels, epochs=2, batch_size=10, validation_data=(x[:50], labels[:50]))
    blocks = epochs_of(out.getvalue())
    assert [len(lines) for lines in blocks] == [1, 1]
    for (line,), epoch in zip(blocks, range(2)):
        want = " - ".join(f"{k}: {v[epoch]:.4f}" for k, v in h.history.items())
        assert line.endswith(want) and len(line) < 80


def test_fit_line_wraps_final_lines_and_marks_what_a_live_line_leaves_out():
    items = ["loss: 0.5000", "accuracy: 0.8000", "val_loss: 0.4000"]
    heads = ["12/12 [==========] - 1.0s", "12/12 - 1.0s", "1.0s", ""]
    text = " - ".join(items)  # 50 characters
    for width, head in [(78, 0), (77, 1), (65, 1), (57, 2), (50, 3)]:
        assert callbacks._fit_line(heads, items, width, final=True) == (head, text, [])
    assert callbacks._fit_line(heads, items, 40, final=True) == (
        3, "loss: 0.5000 - accuracy: 0.8000", ["val_loss: 0.4000"])
    live = ["12/12 [==========] - 1.0s", "12/12 - 1.0s", "12/12"]
    for width, text in [(45, "loss: 0.5000 - accuracy: 0.8000 - ..."), (44, "loss: 0.5000 - ..."),
                        (26, "loss: 0.5000 - ..."), (20, "loss: 0.5000"), (11, "..."), (10, "")]:
        assert callbacks._fit_line(live, items, width, final=False) == (2, text, [])


# ---- History.plot --------------------------------------------------------------------------------
def history_of(epochs=(0, 1, 2)):
    h = callbacks.History()
    for e in epochs:
        h.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5, "val_loss": 2.0,
                           "val_accuracy": 0.4})
    return h


def test_plot_numbers_epochs_from_1(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is optional; History.plot needs it")
    fig = history_of().plot(path=str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").stat().st_size > 0
    loss_panel, accuracy_panel = fig.axes
    assert [line.get_label() for line in loss_panel.lines] == ["loss", "val_loss"]
    for line in loss_panel.lines + accuracy_panel.lines:
        assert list(line.get_xdata()) == [1, 2, 3]
    resumed = history_of(epochs=(4, 5)).plot(metrics="loss")  # fit(initial_epoch=4)
    assert list(resumed.axes[0].lines[0].get_xdata()) == [5, 6]
    import matplotlib.pyplot as plt
    plt.close("all")


def test_plot_of_a_metric_that_was_not_logged_names_those_that_were():
    with pytest.raises(ValueError, match="no metric 'acc' in this history; it has: loss, "
                                         "accuracy, val_loss, val_accuracy"):
        history_of().plot(metrics=["acc"])
    with pytest.raises(ValueError, match="no epoch"):
        callbacks.History().plot()
