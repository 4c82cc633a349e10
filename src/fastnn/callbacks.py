"""Callbacks with Keras' names and hooks, the History that ``fit`` returns, and the progress bar.

Hooks: on_train_begin/end, on_epoch_begin/end, on_train_batch_begin/end (and their older names
on_batch_begin/end), on_test_begin/end, on_test_batch_begin/end, on_predict_begin/end and
on_predict_batch_begin/end. ``logs`` maps names ('loss', 'accuracy', 'val_loss', ...) to floats.
"""

from __future__ import annotations

import functools
import math
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._model_path import check_save_path

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN"]

Logs = Dict[str, float]


class Callback:
    """Base class, as Keras': ``self.model`` is the model being trained (set it to stop:
    ``self.model.stop_training = True``), ``self.params`` holds verbose, epochs and steps.
    Override the hooks you need; each gets the batch or epoch index and the logs so far."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: Dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        """Called before training, with the model being trained.

        Args:
            model: the model; stored as ``self.model``.
        """
        self.model = model

    def set_params(self, params: Dict[str, Any]) -> None:
        """Called before training with ``{"verbose", "epochs", "steps"}``.

        Args:
            params: the dict; stored as ``self.params``.
        """
        self.params = params

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        """Called once when ``fit`` starts.

        Args:
            logs: None (kept for Keras' signature).
        """

    def on_train_end(self, logs: Optional[Logs] = None) -> None:
        """Called once when ``fit`` ends, with the last epoch's logs.

        Args:
            logs: the last epoch's logs (None if no epoch ran).
        """

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        """Called at the start of each epoch (0-based).

        Args:
            epoch: the epoch's index, from 0 (or fit's ``initial_epoch``).
            logs: None (kept for Keras' signature).
        """

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        """Called after each epoch with its logs: ``loss``, the metrics and their ``val_`` twins
        (means over the epoch).

        Args:
            epoch: the epoch's index, from 0 (or fit's ``initial_epoch``).
            logs: maps each name to its float value; the callback gets its own copy.
        """

    def on_train_batch_begin(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called before each training batch; by default calls ``on_batch_begin``.

        Args:
            batch: the batch's index within the epoch, from 0.
            logs: None (kept for Keras' signature).
        """
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called after each training batch with the running means of the epoch so far; by
        default calls ``on_batch_end``.

        Args:
            batch: the batch's index within the epoch, from 0.
            logs: maps 'loss' and each metric to its mean over the epoch's batches so far.
        """
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Keras' older name of ``on_train_batch_begin``.

        Args:
            batch: the batch's index within the epoch, from 0.
            logs: None.
        """

    def on_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Keras' older name of ``on_train_batch_end``.

        Args:
            batch: the batch's index within the epoch, from 0.
            logs: the running means of the epoch so far.
        """

    def on_test_begin(self, logs: Optional[Logs] = None) -> None:
        """Called when ``evaluate`` (or fit's validation) starts.

        Args:
            logs: None.
        """

    def on_test_end(self, logs: Optional[Logs] = None) -> None:
        """Called when ``evaluate`` (or fit's validation) ends, with its results.

        Args:
            logs: the evaluation's loss and metrics.
        """

    def on_test_batch_begin(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called before each evaluation batch.

        Args:
            batch: the batch's index, from 0.
            logs: None.
        """

    def on_test_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called after each evaluation batch with the running means so far.

        Args:
            batch: the batch's index, from 0.
            logs: the running means.
        """

    def on_predict_begin(self, logs: Optional[Logs] = None) -> None:
        """Called when ``predict`` starts.

        Args:
            logs: None.
        """

    def on_predict_end(self, logs: Optional[Logs] = None) -> None:
        """Called when ``predict`` ends.

        Args:
            logs: None.
        """

    def on_predict_batch_begin(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called before each prediction batch.

        Args:
            batch: the batch's index, from 0.
            logs: None.
        """

    def on_predict_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        """Called after each prediction batch.

        Args:
            batch: the batch's index, from 0.
            logs: None (the outputs are not passed).
        """


class History(Callback):
    """Per-epoch logs: ``history.history['loss']`` is a list with one value per epoch;
    ``history.epoch`` the epoch indices."""

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, metrics: Optional[Sequence[str]] = None, path: Optional[str] = None) -> Any:
        """Draws each metric (and its val_ twin) against the epoch, numbered from 1 as the book's
        plots are, with matplotlib, which must be installed. Saves to ``path`` when given;
        returns the figure.

        Args:
            metrics: the names to draw, one panel each (a single name may be a str). Defaults
                to None: every logged name without the 'val_' prefix.
            path: a file to save the figure to (matplotlib's non-interactive Agg backend is
                selected first). Defaults to None, no file.

        Returns:
            The matplotlib Figure.

        Raises:
            ImportError: matplotlib is not installed.
            ValueError: a name in ``metrics`` that was not logged (the message lists those
                that were), or a history without any epoch.
        """
        names = [metrics] if isinstance(metrics, str) else list(metrics or [
            k for k in self.history if not k.startswith("val_")])
        if not self.epoch or not names:
            raise ValueError("this history has no epoch to plot (fit ran none)")
        missing = [name for name in names if name not in self.history]
        if missing:
            raise ValueError(f"no metric {missing[0]!r} in this history; it has: "
                             f"{', '.join(self.history)}")
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from None
        epochs = [e + 1 for e in self.epoch]
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
        for ax, name in zip(axes[0], names):
            ax.plot(epochs, self.history[name], label=name)
            if "val_" + name in self.history:
                ax.plot(epochs, self.history["val_" + name], label="val_" + name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def _better(mode: str, monitor: str) -> Tuple[Callable[[float, float], bool], str]:
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "min":
        return (lambda a, b: a < b), mode
    return (lambda a, b: a > b), mode


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best_weights`` the best epoch's weights are put back.

    Args:
        monitor: the log value to watch. Defaults to 'val_loss'.
        min_delta: a value must beat the best by more than this to count as an improvement
            (its absolute value is used). Defaults to 0.0.
        patience: the number of epochs without improvement after which training stops; 0
            stops at the first one. Defaults to 0.
        verbose: 1 prints a line when training stops, 0 nothing. Defaults to 0.
        mode: 'min', 'max', or 'auto' (default): 'max' when ``monitor`` contains 'acc' or
            ends with 'auc', else 'min'.
        restore_best_weights: when stopping, put back the weights of the best epoch.
            Defaults to False.

    Raises:
        ValueError: an unknown mode; at the end of an epoch (``on_epoch_end``), a monitor
            that is not in the logs.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", restore_best_weights: bool = False):
        super().__init__()
        self.monitor, self.min_delta, self.patience = monitor, abs(float(min_delta)), int(patience)
        self.verbose, self.restore_best_weights = verbose, restore_best_weights
        self._improved, self.mode = _better(mode, monitor)
        self.stopped_epoch = 0

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        self.wait, self.stopped_epoch = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: Optional[List[np.ndarray]] = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which is not in the logs "
                             f"({', '.join(sorted(logs or {}))})")
        # Keras: an improvement must beat the best by more than min_delta.
        shifted = value + self.min_delta if self.mode == "min" else value - self.min_delta
        if self._improved(shifted, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping (best {self.monitor} "
                      f"{self.best:.4f} at epoch {self.best_epoch + 1})")


class ModelCheckpoint(Callback):
    """Saves the model after each epoch to ``filepath`` (may contain ``{epoch}`` and log names,
    e.g. ``'model-{epoch:02d}-{val_loss:.2f}.keras'``, or ``.fnn`` for fastnn's own format);
    with ``save_best_only`` only when ``monitor`` improved. Saves are atomic.

    Args:
        filepath: the file to save to, formatted with ``epoch`` (1-based) and the epoch's log
            names.
        monitor: the log value compared by ``save_best_only``. Defaults to 'val_loss'.
        verbose: 1 prints a line for each save, 0 nothing. Defaults to 0.
        save_best_only: save only when ``monitor`` is better than at every earlier save.
            Defaults to False.
        mode: 'min', 'max', or 'auto' (default): 'max' when ``monitor`` contains 'acc' or
            ends with 'auc', else 'min'.

    Raises:
        ValueError: an unknown mode; a filepath ending in .h5 or .hdf5 (fastnn writes Keras
            3's .keras format and its own, not Keras' legacy HDF5); at the end of an epoch
            (``on_epoch_end``), with ``save_best_only``, a monitor that is not in the logs.
        KeyError: a name in ``filepath`` that is not in the epoch's logs.
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto"):
        check_save_path(filepath)  # now, not after the first epoch's training
        super().__init__()
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only = save_best_only
        self._improved, self.mode = _better(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise ValueError(f"ModelCheckpoint monitors {self.monitor!r}, which is not in the "
                                 f"logs ({', '.join(sorted(logs))})")
            if not self._improved(value, self.best):
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite."""

    def on_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


# ---- progress output -----------------------------------------------------------------------------
# Keras' bar is 30 characters. Below 10 a bar tells little, so it is shrunk, then dropped, before a
# single metric is moved to another line.
_FULL_BAR = 30
_MIN_BAR = 10
_SEP = " - "


def _metric_items(logs: Optional[Logs]) -> List[str]:
    """The text of each log value as the progress output shows it: ``'loss: 0.1234'``.

    Args:
        logs: maps names to floats (None for none).

    Returns:
        One string per name, in the logs' order.
    """
    return [f"{k}: {v:.4f}" for k, v in (logs or {}).items()]


def _line_width() -> int:
    """The most characters a progress line may have: one less than the terminal's columns
    (``shutil.get_terminal_size``: $COLUMNS, else the terminal of stdout, else 80).

    A line that fills the last column makes some terminals (Windows' console) wrap at once, and
    the next carriage return would then redraw one line too low.

    Returns:
        The width, at least 1.
    """
    return max(1, shutil.get_terminal_size().columns - 1)


def _join(*parts: str) -> str:
    return _SEP.join(p for p in parts if p)


def _wrap(head: str, items: Sequence[str], width: int) -> List[List[str]]:
    """items grouped into lines of at most width characters, broken only between items; the
    first group shares its line with head. An item wider than a line (a long name on a narrow
    terminal) goes on lines of its own, split after its colon, or failing that every width
    characters, rather than cut."""
    groups: List[List[str]] = [[]]
    line = head
    for item in items:
        if len(_join(line, item)) <= width:
            groups[-1].append(item)
            line = _join(line, item)
        elif len(item) <= width:
            groups.append([item])
            line = item
        else:
            name, colon, value = item.partition(": ")
            pieces = [name + ":", value] if colon and len(name) < width else [item]
            groups += [[p[k:k + width]] for p in pieces for k in range(0, len(p), width)]
            line = item  # wider than a line: the next item starts a new one
    if not groups[0] and not head:
        groups.pop(0)
    return groups


def _fit_line(heads: Sequence[str], items: Sequence[str], width: int,
             final: bool) -> Tuple[int, str, List[str]]:
    """Lays out one progress line so that no line is wider than ``width``.

    The first head that leaves room for every metric is used. When none does, the last (the
    sparest) is: on the epoch's final line the metrics then wrap onto further lines at the
    ``" - "`` between two of them, so every metric is shown whole; a live line, redrawn in place,
    must stay one line, and shows the metrics that fit, then ``...``.

    Args:
        heads: the text before the metrics, richest first, each as drawn at its narrowest (a
            bar at its smallest width); an empty head puts the metrics alone on the line.
        items: the metric texts (``_metric_items``).
        width: the most characters per line (``_line_width``).
        final: the epoch's last line (wraps) rather than a live one (one line).

    Returns:
        (index of the head to draw, the metric text after it, further lines): the head and the
        text are joined by ``" - "``; the further lines (final only) are printed below.
    """
    text = _SEP.join(items)
    for i, head in enumerate(heads):
        if len(_join(head, text)) <= width:
            return i, text, []
    last = len(heads) - 1
    if final:
        groups = _wrap(heads[last], items, width)
        return last, _SEP.join(groups[0]), [_SEP.join(g) for g in groups[1:]]
    return last, _first_items(heads[last], items, width), []


def _first_items(head: str, items: Sequence[str], width: int) -> str:
    """The first items that fit after head, then '...' for the others; when '...' leaves room
    for no item, as many items as fit without it; failing that, '...' alone if it fits."""
    for mark in ("...", ""):
        shown: List[str] = []
        for item in items:
            if len(_join(head, *shown, item, mark)) > width:
                break
            shown.append(item)
        if shown:
            return _join(*shown, mark if len(shown) < len(items) else "")
    return "..." if items and len(_join(head, "...")) <= width else ""


def _plain_bar(done: float, size: int) -> str:
    bar = "=" * int(done * size)
    return (bar[:-1] + ">") if 0 < done < 1 and bar else bar


def _is_live(stream: Any) -> bool:
    """Whether redrawing a line in place works: a terminal, or a Jupyter kernel's stream (which
    honours a carriage return). A log file would keep every frame."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty()) or "ipykernel" in sys.modules


# tqdm's own look, then sparer versions for narrower terminals: the rate goes first, the bar last
# of all but the count. On the final line the elapsed time is kept longest.
_TQDM_BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt}"
_TQDM_LIVE = (_TQDM_BAR + " [{elapsed}<{remaining}, {rate_fmt}]",
              _TQDM_BAR + " [{elapsed}<{remaining}]", _TQDM_BAR,
              "{n_fmt}/{total_fmt} [{elapsed}<{remaining}]", "{n_fmt}/{total_fmt}")
_TQDM_FINAL = (_TQDM_LIVE[0], _TQDM_BAR + " [{elapsed}]", _TQDM_BAR,
               "{n_fmt}/{total_fmt} [{elapsed}]", "{elapsed}", "")


@functools.lru_cache(maxsize=None)
def _tqdm_class() -> Any:
    """A tqdm bar that lays out fastnn's metric text with ``_fit_line``, or None when tqdm is not
    installed. tqdm's own postfix would be cut at the terminal's edge."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    class MetricsBar(tqdm):  # type: ignore[misc]
        # Read while tqdm draws, so the layout is worked out only for the frames it shows.
        fastnn_logs: Optional[Logs] = None
        fastnn_final = False
        fastnn_more: List[str] = []

        @property
        def format_dict(self) -> Dict[str, Any]:
            d: Dict[str, Any] = super().format_dict
            width = _line_width()
            formats = _TQDM_FINAL if self.fastnn_final else _TQDM_LIVE
            # tqdm draws {bar} 10 characters wide without ncols: the narrowest it should get.
            heads = [self.format_meter(**{**d, "bar_format": f, "ncols": None}) if f else ""
                     for f in formats]
            i, text, self.fastnn_more = _fit_line(heads, _metric_items(self.fastnn_logs), width,
                                                 self.fastnn_final)
            d.update(ncols=width, metrics=text,
                     bar_format=_join(formats[i], "{metrics}" if text else ""))
            return d

    return MetricsBar


class ProgressBar(Callback):
    """Keras-like progress: verbose=1 a bar per epoch with live loss and metrics (tqdm's when it
    is installed, else a plain one), verbose=2 one line per epoch.

    Every line fits the terminal (``_line_width``): the bar shrinks, then goes, before a metric
    would be cut; the epoch's final line shows every metric, whole, wrapping at a ``" - "`` when
    the metrics alone are wider than the terminal. Live lines and final lines show the same metric
    text. When stdout is not a terminal (a log file, a pipe) only the final line is printed.

    Args:
        verbose: 1 a bar, 2 one line per epoch.
        epochs: the epoch count, for the "Epoch 3/5" labels.
        steps: batches per epoch.
    """

    def __init__(self, verbose: int, epochs: int, steps: int):
        super().__init__()
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._tqdm: Any = None

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._seen = 0
        self._drawn = 0
        self._live = self.verbose == 1 and _is_live(sys.stdout)
        self._tqdm = None
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")
            bar_class = _tqdm_class() if self._live else None
            if bar_class is not None:
                self._tqdm = bar_class(total=self.steps, unit="step", leave=True,
                                       file=sys.stdout, mininterval=0.1)

    def on_train_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        self._seen = batch + 1
        if not self._live:
            return
        if self._tqdm is not None:
            self._tqdm.fastnn_logs = logs
            self._tqdm.update(1)
            return
        now = time.perf_counter()
        # At most ten frames a second, and none for the last batch: on_epoch_end draws that.
        if batch + 1 >= self.steps or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        line, _ = self._plain_lines(_metric_items(logs), final=False)
        if line:
            # Spaces blank the end of a longer frame before it.
            sys.stdout.write("\r" + line.ljust(min(self._drawn, _line_width())))
            sys.stdout.flush()
            self._drawn = len(line)

    def _plain_lines(self, items: List[str], final: bool) -> Tuple[str, List[str]]:
        """The plain bar's line (empty when the terminal is too narrow for even the count) and
        the lines below it."""
        width = _line_width()
        count = f"{self._seen:>{len(str(self.steps))}}/{self.steps}"
        clock = f"{time.perf_counter() - self._start:.1f}s"
        heads = [f"{count} [{'=' * _MIN_BAR}] - {clock}", f"{count} - {clock}"]
        heads += [clock, ""] if final else [count]
        i, text, more = _fit_line(heads, items, width, final)
        if len(heads[i]) > width:
            return "", []
        head = heads[i]
        if i == 0:
            size = min(_FULL_BAR, _MIN_BAR + width - len(_join(head, text)))
            head = f"{count} [{_plain_bar(self._seen / self.steps, size):<{size}}] - {clock}"
        return _join(head, text), more

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        items = _metric_items(logs)
        if self.verbose == 1 and self._tqdm is not None:
            self._tqdm.fastnn_logs, self._tqdm.fastnn_final = logs, True
            self._tqdm.close()
            lines = list(self._tqdm.fastnn_more)
            self._tqdm = None
        elif self.verbose == 1:
            line, more = self._plain_lines(items, final=True)
            first = ("\r" + line.ljust(min(self._drawn, _line_width()))) if self._drawn else line
            lines = [first, *more]
        else:
            label = f"Epoch {epoch + 1}/{self.epochs}"
            heads = [_join(label, f"{time.perf_counter() - self._start:.1f}s"), label]
            i, text, more = _fit_line(heads, items, _line_width(), final=True)
            lines = [_join(heads[i], text), *more]
        if lines:
            sys.stdout.write("".join(line + "\n" for line in lines))
            sys.stdout.flush()
