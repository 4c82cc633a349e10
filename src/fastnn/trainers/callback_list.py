"""The callbacks of one ``fit``, ``evaluate`` or ``predict`` as one object, as Keras' CallbackList:
the progress bar first, the user's callbacks, the History last. A hook is called only on the
callbacks that override it, so an empty hook costs nothing per batch."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .. import callbacks as callbacks_module
from ..callbacks import Callback, History, ProgressBar

__all__ = ["CallbackList"]

_HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end"]
# A hook also counts as overridden when the older name it calls by default is.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(cb: Callback, hook: str) -> bool:
    cls = type(cb)
    if getattr(cls, hook) is not getattr(Callback, hook):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and getattr(cls, alias) is not getattr(Callback, alias)


class CallbackList:
    """Calls each hook on every callback that has it.

    Args:
        callbacks: the user's callbacks (or None).
        model: the model they act on.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        epochs: the epoch count (for the progress output).
        steps: batches per epoch.
        add_history: append a History (fit). Defaults to False.

    Raises:
        TypeError: an item that is not a ``fastnn.callbacks.Callback``.
    """

    def __init__(self, callbacks: Optional[Sequence[Callback]], model: Any, verbose: int,
                 epochs: int, steps: int, add_history: bool = False) -> None:
        items: List[Callback] = []
        if verbose:
            items.append(ProgressBar(verbose, epochs, steps))
        for cb in callbacks or []:
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(f"callbacks must be fastnn.callbacks.Callback instances; "
                                f"received {type(cb).__name__}")
            items.append(cb)
        self.history: Optional[History] = None
        if add_history:
            self.history = History()
            items.append(self.history)
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        for cb in items:
            cb.set_model(model)
            cb.set_params(params)
        self.callbacks = items
        self._by_hook: Dict[str, List[Callback]] = {
            hook: [cb for cb in items if _overrides(cb, hook)] for hook in _HOOKS}

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self._by_hook[hook]:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        """Calls on_train_begin on each callback."""
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None:
        """Calls on_train_end on each callback."""
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        """Calls on_epoch_begin on each callback."""
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Dict[str, float]) -> None:
        """Calls on_epoch_end on each callback, each with its own copy of the logs."""
        for cb in self._by_hook["on_epoch_end"]:
            cb.on_epoch_end(epoch, dict(logs))

    def on_train_batch_begin(self, batch: int) -> None:
        """Calls on_train_batch_begin on each callback that has it."""
        self._call("on_train_batch_begin", batch, None)

    def on_train_batch_end(self, batch: int, logs: Dict[str, float]) -> None:
        """Calls on_train_batch_end on each callback that has it."""
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self) -> None:
        """Calls on_test_begin on each callback."""
        self._call("on_test_begin", None)

    def on_test_end(self, logs: Dict[str, float]) -> None:
        """Calls on_test_end on each callback."""
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int) -> None:
        """Calls on_test_batch_begin on each callback that has it."""
        self._call("on_test_batch_begin", batch, None)

    def on_test_batch_end(self, batch: int, logs: Dict[str, float]) -> None:
        """Calls on_test_batch_end on each callback that has it."""
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self) -> None:
        """Calls on_predict_begin on each callback."""
        self._call("on_predict_begin", None)

    def on_predict_end(self) -> None:
        """Calls on_predict_end on each callback."""
        self._call("on_predict_end", None)

    def on_predict_batch_begin(self, batch: int) -> None:
        """Calls on_predict_batch_begin on each callback that has it."""
        self._call("on_predict_batch_begin", batch, None)

    def on_predict_batch_end(self, batch: int) -> None:
        """Calls on_predict_batch_end on each callback that has it."""
        self._call("on_predict_batch_end", batch, None)

    def wants_batches(self, kind: str) -> bool:
        """Whether some callback has a batch hook of ``kind`` ('train', 'test', 'predict')."""
        hooks = self._by_hook
        return bool(hooks[f"on_{kind}_batch_begin"] or hooks[f"on_{kind}_batch_end"])
