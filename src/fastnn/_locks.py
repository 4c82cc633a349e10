"""The locks behind fastnn's thread safety, made so that a forked child starts with them free.

A lock held by another thread when the process forks stays held for ever in the child, where
that thread does not exist; every lock here is replaced, unlocked, in the child
(``os.register_at_fork``).
The C++ side does the same for its own locks (``pthread_atfork``).

- ``Lock``: a plain (or reentrant) lock.
- ``WeightsLock``: a model's weights as readers (inference on the op-by-op path) and one writer
  (the optimizer's update on that path) see them; a waiting writer holds back new readers.
- ``training``: the registry of the variables being trained, so that a second ``fit`` on the same
  weights (the same model, or another model sharing its layers) raises instead of interleaving.
"""

from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Sequence

__all__ = ["Lock", "WeightsLock", "training", "trainer_of"]

_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


class Lock:
    """A lock (reentrant when asked) that a forked child gets back unlocked.

    Args:
        reentrant: whether the thread holding it may take it again. Defaults to False.
    """

    def __init__(self, reentrant: bool = False) -> None:
        self._reentrant = reentrant
        self._lock: Any = threading.RLock() if reentrant else threading.Lock()
        _live.add(self)

    def __enter__(self) -> bool:
        return bool(self._lock.acquire())

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def _after_fork(self) -> None:
        self._lock = threading.RLock() if self._reentrant else threading.Lock()


class WeightsLock:
    """Readers share, a writer is alone; a writer that waits stops new readers from entering,
    so a stream of predict calls cannot starve training."""

    def __init__(self) -> None:
        self._after_fork()
        _live.add(self)

    def _after_fork(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


# id(variable) -> (the thread training it, a description of what trains it)
_trained: Dict[int, Any] = {}
_trained_lock = Lock()


@contextmanager
def training(variables: Sequence[Any], what: str) -> Iterator[None]:
    """Marks ``variables`` as being trained by this thread for the block (``what`` says by what,
    e.g. "fit of model 'sequential'").

    Raises:
        RuntimeError: one of them is being trained already (by another thread, or by an
            enclosing fit of this one); nothing is marked then.
    """
    me = threading.get_ident()
    ids = list(dict.fromkeys(id(v) for v in variables))
    with _trained_lock:
        for i in ids:
            busy = _trained.get(i)
            if busy is not None:
                where = "another thread" if busy[0] != me else "this thread (a fit inside a fit)"
                raise RuntimeError(
                    f"{what}: these weights are being trained already, by {busy[1]} in {where}; "
                    f"a set of weights trains in one call at a time (wait for it to return, or "
                    f"train a copy made with models.clone_model)")
        for i in ids:
            _trained[i] = (me, what)
    try:
        yield
    finally:
        with _trained_lock:
            for i in ids:
                _trained.pop(i, None)


def trainer_of(variable: Any) -> Any:
    """The thread id training ``variable`` now, or None."""
    busy = _trained.get(id(variable))
    return None if busy is None else busy[0]


def _after_fork_in_child() -> None:
    for lock in list(_live):
        lock._after_fork()
    # Only this thread exists in the child: what other threads were training is not.
    me = threading.get_ident()
    for i, (thread, _) in list(_trained.items()):
        if thread != me:
            del _trained[i]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
