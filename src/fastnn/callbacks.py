"""Callbacks with Keras' names and hooks, the History that ``fit`` returns, and the progress bar.

Hooks: on_train_begin/end, on_epoch_begin/end, on_train_batch_begin/end (and their older names
on_batch_begin/end), on_test_begin/end, on_test_batch_begin/end, on_predict_begin/end and
on_predict_batch_begin/end. ``logs`` maps names ('loss', 'accuracy', 'val_loss', ...) to floats.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

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

    def plot(self, metrics: Optional[List[str]] = None, path: Optional[str] = None) -> Any:
        """Draws each metric (and its val_ twin) against the epoch with matplotlib, which must be
        installed. Saves to ``path`` when given; returns the figure.

        Args:
            metrics: the names to draw, one panel each. Defaults to None: every logged name
                without the 'val_' prefix.
            path: a file to save the figure to (matplotlib's non-interactive Agg backend is
                selected first). Defaults to None, no file.

        Returns:
            The matplotlib Figure.

        Raises:
            ImportError: matplotlib is not installed.
            KeyError: a name in ``metrics`` that was not logged.
        """
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from None
        names = metrics or [k for k in self.history if not k.startswith("val_")]
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
        for ax, name in zip(axes[0], names):
            ax.plot(self.epoch, self.history[name], label=name)
            if "val_" + name in self.history:
                ax.plot(self.epoch, self.history["val_" + name], label="val_" + name)
            ax.set_xlabel("epoch")
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
    e.g. ``'model-{epoch:02d}-{val_loss:.2f}.fnn'``); with ``save_best_only`` only when
    ``monitor`` improved. Saves are atomic.

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
        ValueError: an unknown mode; at the end of an epoch (``on_epoch_end``), with
            ``save_best_only``, a monitor that is not in the logs.
        KeyError: a name in ``filepath`` that is not in the epoch's logs.
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto"):
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


def _format_logs(logs: Logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressBar(Callback):
    """Keras-like progress: verbose=1 a bar per epoch with live loss and metrics (tqdm when it
    is installed, else a plain one-line bar), verbose=2 one line per epoch."""

    def __init__(self, verbose: int, epochs: int, steps: int):
        super().__init__()
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._tqdm: Any = None

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._tty = sys.stdout.isatty()
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")
            try:
                from tqdm import tqdm
                self._tqdm = tqdm(total=self.steps, unit="step", leave=True, file=sys.stdout)
            except ImportError:
                self._tqdm = None

    def on_train_batch_end(self, batch: int, logs: Optional[Logs] = None) -> None:
        if self.verbose != 1:
            return
        if self._tqdm is not None:
            self._tqdm.update(1)
            self._tqdm.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()}, refresh=False)
            return
        now = time.perf_counter()
        # Redraw at most ten times a second, only on a terminal (a log would keep every frame),
        # and not for the last batch: on_epoch_end draws the final bar.
        if batch + 1 >= self.steps or now - self._last_draw < 0.1 or not self._tty:
            return
        self._last_draw = now
        done = (batch + 1) / self.steps
        bar = "=" * int(done * 30)
        bar = (bar[:-1] + ">") if 0 < done < 1 else bar
        sys.stdout.write(f"\r{batch + 1:>{len(str(self.steps))}}/{self.steps} [{bar:<30}] "
                         f"- {now - self._start:.1f}s - {_format_logs(logs or {})}")
        sys.stdout.flush()

    def on_epoch_end(self, epoch: int, logs: Optional[Logs] = None) -> None:
        elapsed = time.perf_counter() - self._start
        text = f"{elapsed:.1f}s - {_format_logs(logs or {})}"
        if self.verbose == 1:
            if self._tqdm is not None:
                self._tqdm.set_postfix_str(_format_logs(logs or {}))
                self._tqdm.close()
            else:
                start = "\r" if self._tty else ""
                sys.stdout.write(f"{start}{self.steps}/{self.steps} [{'=' * 30}] - {text}\n")
                sys.stdout.flush()
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {text}")
