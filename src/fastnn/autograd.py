"""Reverse-mode automatic differentiation over fastnn.ops: ``Variable``, ``Tensor`` and
``GradientTape``, with TensorFlow's names, so the book's "from scratch" programs map one to one.

How it works. An op handed a Variable or a Tensor runs its kernel on the arrays behind them as
usual and wraps the result in a Tensor. While a GradientTape is active, and only when one of the
inputs is watched by it (a trainable Variable, a tensor passed to ``watch``, or a result derived
from one of those), the result also gets a ``Node``: its inputs and a backward function that maps
the result's gradient to theirs. ``tape.gradient`` walks the nodes from the target back to the
sources in reverse topological order, summing where a value was used more than once. Every
backward is made of the backend's kernels; numpy only reshapes and takes views.

Plain numpy arrays never reach this module: ops on them cost what they cost without it. The
gradient rules below compute with the backend (fastnn._backend), never with fastnn.ops, so the
dependency runs one way: ops -> autograd -> backend.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from . import _backend as B
from ._locks import Lock

__all__ = ["Tensor", "Variable", "GradientTape"]

Grads = Tuple[Optional[np.ndarray], ...]
Backward = Callable[[np.ndarray], Grads]


# Guards Variable._recorders: tapes in several threads may hold the same variable.
_recorders_lock = Lock()


class _ThreadState(threading.local):
    """Tapes record on the thread that opened them, as TensorFlow's do."""

    def __init__(self) -> None:
        self.tapes: List[GradientTape] = []  # the active tapes, innermost last


_state = _ThreadState()


class Node:
    """How a Tensor was computed: its inputs, the tapes that recorded it, and its backward,
    which maps the gradient of the result to one gradient (or None) per input."""

    __slots__ = ("inputs", "backward", "tapes")

    def __init__(self, inputs: Sequence[Any], backward: Backward, tapes: List[GradientTape]):
        self.inputs = inputs
        self.backward = backward
        self.tapes = tapes


class Tensor:
    """A float32 array computed by fastnn.ops from Variables or other Tensors (or made from an
    array with ``Tensor(value)``, a constant).

    It reads like the array it holds: ``numpy()``, ``shape``, ``dtype``, ``ndim``, ``len()``,
    ``np.asarray(t)``, ``float(t)``, ``f"{t:.2f}"``. The operators ``+ - * / @``, unary ``-``,
    ``**`` by a constant and ``.T`` run fastnn.ops, so a tape records them. The array behind a
    Tensor is read-only: a tape may still need it for a backward pass.

    Args:
        value: anything ``np.asarray`` takes, of a real dtype (bool, int or float), or another
            Tensor; it is copied and converted to float32.

    Raises:
        TypeError: a value that is not an array of real numbers.
    """

    # _logits: for a softmax or sigmoid output, (that activation's name, the logits it came
    # from), as Keras keeps them, so that a cross-entropy of it runs on the logits: exact and
    # stable where clipped probabilities would stop the gradient.
    __slots__ = ("_value", "_node", "_logits", "__weakref__")
    _value: np.ndarray
    _node: Optional[Node]
    _logits: Any
    # numpy defers to the reflected operators below, so `array @ tensor` is recorded as well.
    __array_ufunc__ = None

    def __init__(self, value: Any) -> None:
        self._value = _readonly(np.array(_array(value, "value")))  # a copy
        self._node = None
        self._logits = None

    @classmethod
    def _wrap(cls, value: Any, node: Optional[Node] = None) -> Tensor:
        """A Tensor around an op's fresh result (no copy)."""
        t = object.__new__(Tensor)
        t._value = _readonly(np.asarray(value, dtype=np.float32))
        t._node = node
        t._logits = None
        return t

    def numpy(self) -> np.ndarray:
        """The value as a (read-only) numpy array."""
        return self._value

    @property
    def shape(self) -> Tuple[int, ...]:
        """The array's shape."""
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        """Always float32."""
        return self._value.dtype

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self._value.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._value.size

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's name
        """The transpose (axes reversed), recorded like ``ops.transpose``."""
        return transpose(self, None)

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        if dtype is None or np.dtype(dtype) == self._value.dtype:
            return self._value.copy() if copy else self._value
        return self._value.astype(dtype)

    def __len__(self) -> int:
        return len(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __format__(self, spec: str) -> str:
        return format(self._value[()] if self._value.ndim == 0 else self._value, spec)

    def __repr__(self) -> str:
        body = np.array2string(self._value, separator=", ", prefix=" " * 7)
        return f"{type(self).__name__}({body}, shape={self.shape}, dtype=float32)"

    def __add__(self, other: Any) -> Tensor:
        return binary(B.ADD, "add", self, other)

    def __radd__(self, other: Any) -> Tensor:
        return binary(B.ADD, "add", other, self)

    def __sub__(self, other: Any) -> Tensor:
        return binary(B.SUBTRACT, "subtract", self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return binary(B.SUBTRACT, "subtract", other, self)

    def __mul__(self, other: Any) -> Tensor:
        return binary(B.MULTIPLY, "multiply", self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return binary(B.MULTIPLY, "multiply", other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return binary(B.DIVIDE, "divide", self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return binary(B.DIVIDE, "divide", other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __neg__(self) -> Tensor:
        return binary(B.MULTIPLY, "multiply", self, -1.0)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        return _power(self, exponent)


class Variable(Tensor):
    """A trainable float32 array, the weights of a model written from ops (``tf.Variable``).

    Args:
        initial_value: anything ``np.asarray`` takes, of a real dtype, or a Tensor; it is copied
            to a float32 array, whose shape the variable keeps.
        trainable: whether tapes watch it automatically when an op reads it. Defaults to True.
        name: an optional label, shown by ``repr``. Defaults to None.

    ``assign``, ``assign_add`` and ``assign_sub`` write in place. One exception keeps gradients
    right: while a tape that read the variable can still be asked for gradients, they write a
    new array instead, so that tape keeps the values it recorded.

    Raises:
        TypeError: an initial value that is not an array of real numbers.
    """

    __slots__ = ("trainable", "name", "_recorders")

    def __init__(self, initial_value: Any, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        self._value = np.array(_array(initial_value, "initial_value"), order="C")  # a copy
        self._node = None
        self._logits = None
        self.trainable = bool(trainable)
        self.name = name
        self._recorders = 0  # live tapes holding the current array

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        return self._value.copy()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        body = np.array2string(self._value, separator=", ", prefix=" " * 10)
        return f"Variable{label}({body}, shape={self.shape}, dtype=float32)"

    def assign(self, value: Any) -> Variable:
        """Sets the value (broadcast to the variable's shape, which never changes).

        Args:
            value: an array-like of a real dtype, or a Tensor, that broadcasts to the
                variable's shape.

        Returns:
            The variable itself.

        Raises:
            ValueError: a value whose shape does not broadcast to the variable's.
            TypeError: a value that is not an array of real numbers.
        """
        return self._update(None, value, "assign")

    def assign_add(self, delta: Any) -> Variable:
        """``value += delta``.

        Args:
            delta: an array-like of a real dtype, or a Tensor, that broadcasts to the
                variable's shape.

        Returns:
            The variable itself.

        Raises:
            ValueError: a delta whose shape does not broadcast to the variable's.
            TypeError: a delta that is not an array of real numbers.
        """
        return self._update(B.ADD, delta, "assign_add")

    def assign_sub(self, delta: Any) -> Variable:
        """``value -= delta`` (the step of gradient descent: ``w.assign_sub(g * lr)``).

        Args:
            delta: an array-like of a real dtype, or a Tensor, that broadcasts to the
                variable's shape.

        Returns:
            The variable itself.

        Raises:
            ValueError: a delta whose shape does not broadcast to the variable's.
            TypeError: a delta that is not an array of real numbers.
        """
        return self._update(B.SUBTRACT, delta, "assign_sub")

    def _update(self, code: Any, value: Any, name: str) -> Variable:
        """Writes ``value`` (code None) or ``value code delta`` into the variable."""
        v = value._value if isinstance(value, Tensor) else B.as_float32(value, "value")
        try:
            fits = B.broadcast_shapes(self.shape, v.shape, name) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name}: a value of shape {v.shape} does not fit a variable of "
                             f"shape {self.shape}")
        if self._recorders:  # a tape still needs the current array: leave it to the tape
            new = (np.array(np.broadcast_to(v, self.shape), dtype=np.float32) if code is None
                   else B.binary(code, name, self._value, v))
            self._set_storage(new)
        elif code is None:
            np.copyto(self._value, v)
        else:
            B.binary(code, name, self._value, v, self._value)
        return self

    def _set_storage(self, array: np.ndarray) -> None:
        """Makes ``array`` (float32, of the variable's shape) the variable's storage: a fresh copy
        when a tape holds the old one, or a view into a model's flat buffer of weights."""
        self._value = array
        self._recorders = 0


class GradientTape:
    """Records the ops run on watched values, to compute gradients (``tf.GradientTape``).

    ::

        with fastnn.GradientTape() as tape:
            loss = fastnn.ops.mean(fastnn.losses.sparse_categorical_crossentropy(y, model(x)))
        grads = tape.gradient(loss, model.weights)

    Args:
        persistent: allow several ``gradient`` calls. Defaults to False: the tape is released
            after one.
        watch_accessed_variables: watch every trainable Variable an op reads (default True);
            when False, only what ``watch`` names.

    Raises:
        RuntimeError: entering a tape that is already recording (a nested ``with`` of it).
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self._watch_variables = watch_accessed_variables
        self._watched: Dict[int, Tensor] = {}
        self._held: Dict[int, Tuple[Variable, np.ndarray]] = {}
        self._recording = False
        self._used = False

    def __enter__(self) -> GradientTape:
        if self._recording:
            raise RuntimeError("this GradientTape is already recording")
        _state.tapes.append(self)
        self._recording = True
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.tapes.remove(self)
        self._recording = False

    def watch(self, tensor: Union[Tensor, Sequence[Tensor]]) -> None:
        """Makes the tape record ops on ``tensor`` (a Tensor, a Variable, or a list of them).

        Args:
            tensor: a Tensor or Variable, or a list or tuple of them. A Variable created with
                ``trainable=False`` is watched only this way.

        Raises:
            TypeError: an item that is not a Tensor or Variable (a numpy array, say).
        """
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not isinstance(t, Tensor):
                raise TypeError(f"watch() takes Tensors or Variables; received "
                                f"{type(t).__name__} (wrap an array first: fastnn.Tensor(x))")
            self._watched[id(t)] = t

    def gradient(self, target: Any, sources: Any,
                 output_gradients: Any = None) -> Any:
        """The gradient of ``target`` with respect to each source.

        Args:
            target: a Tensor computed under this tape (or a list of them: their sum is
                differentiated). A non-scalar target is differentiated as the sum of its entries.
            sources: a Tensor or Variable, or a list / tuple of them.
            output_gradients: the gradient to start from, of the target's shape (default ones).

        Returns:
            One float32 array of the source's shape per source (in a list or tuple like
            ``sources``, or alone), or None for a source the target does not depend on through
            recorded ops.

        Raises:
            RuntimeError: a second call on a non-persistent tape.
            TypeError: a target or source that is not a Tensor or Variable.
            ValueError: an output gradient whose shape is not its target's.
        """
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape computes gradients once; create it "
                               "with GradientTape(persistent=True) to call gradient() again")
        self._used = True
        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        single = isinstance(sources, Tensor)
        srcs = [sources] if single else list(sources)
        for what, items in (("target", targets), ("source", srcs)):
            for t in items:
                if not isinstance(t, Tensor):
                    raise TypeError(f"gradient: each {what} must be a Tensor or Variable; "
                                    f"received {type(t).__name__}")
        if output_gradients is None:
            seeds = [np.ones(t.shape, np.float32) for t in targets]
        else:
            given = output_gradients
            if not isinstance(given, (list, tuple)):
                given = [given]
            seeds = [B.as_float32(g, "output_gradients") for g in given]
            for t, s in zip(targets, seeds):
                if s.shape != t.shape:
                    raise ValueError(f"gradient: output_gradients of shape {s.shape} for a target "
                                     f"of shape {t.shape}")
        grads = self._backpropagate(targets, seeds, {id(s) for s in srcs})
        result = _distinct([grads.get(id(s)) for s in srcs])
        if not self.persistent:
            self._release()
        if single:
            return result[0]
        return tuple(result) if isinstance(sources, tuple) else result

    # ---- internals ----------------------------------------------------------------------------

    def _watches(self, x: Any) -> bool:
        if not isinstance(x, Tensor):
            return False
        if isinstance(x, Variable) and x.trainable and self._watch_variables:
            return True
        node = x._node
        return (node is not None and self in node.tapes) or id(x) in self._watched

    def _hold(self, inputs: Sequence[Any]) -> None:
        """Counts this tape among the holders of each input variable's current array."""
        for x in inputs:
            if isinstance(x, Variable):
                held = self._held.get(id(x))
                if held is None or held[1] is not x._value:
                    self._held[id(x)] = (x, x._value)
                    with _recorders_lock:  # tapes in other threads count on it too
                        x._recorders += 1

    def _release(self) -> None:
        for var, array in self._held.values():
            if var._value is array:
                with _recorders_lock:
                    var._recorders -= 1
        self._held.clear()
        self._watched.clear()

    def __del__(self) -> None:
        self._release()

    def _recorded_order(self, targets: List[Tensor]) -> List[Tensor]:
        """The tensors this tape recorded that the targets depend on, each after its inputs."""
        order: List[Tensor] = []
        state: Dict[int, bool] = {}  # False: inputs being visited, True: done
        stack = list(targets)
        while stack:
            t = stack[-1]
            node = t._node
            if node is None or self not in node.tapes or state.get(id(t)):
                stack.pop()
            elif id(t) not in state:
                state[id(t)] = False
                stack.extend(x for x in node.inputs if isinstance(x, Tensor) and id(x) not in state)
            else:
                stack.pop()
                state[id(t)] = True
                order.append(t)
        return order

    def _backpropagate(self, targets: List[Tensor], seeds: List[np.ndarray],
                       keep: Set[int]) -> Dict[int, np.ndarray]:
        grads: Dict[int, np.ndarray] = {}
        for t, s in zip(targets, seeds):
            _accumulate(grads, t, s)
        for t in reversed(self._recorded_order(targets)):
            g = grads.get(id(t)) if id(t) in keep else grads.pop(id(t), None)
            if g is None:
                continue
            node = t._node
            assert node is not None
            for x, gx in zip(node.inputs, node.backward(g)):
                if gx is not None and self._watches(x):
                    _accumulate(grads, x, gx)
        return grads


def _accumulate(grads: Dict[int, np.ndarray], x: Tensor, g: np.ndarray) -> None:
    if g.shape != x.shape:
        raise AssertionError(f"fastnn autograd: a gradient of shape {g.shape} for a value of "
                             f"shape {x.shape} (a bug in a backward function)")
    prev = grads.get(id(x))
    grads[id(x)] = g if prev is None else B.binary(B.ADD, "add", prev, g)  # g may be shared


def _distinct(arrays: List[Optional[np.ndarray]]) -> List[Optional[np.ndarray]]:
    """Writable arrays that share no memory: one backward may hand the same array to two
    inputs (add does), and a caller may update a gradient in place."""
    out: List[Optional[np.ndarray]] = []
    for g in arrays:
        if g is not None and (not g.flags.writeable
                              or any(o is not None and np.may_share_memory(g, o) for o in out)):
            g = g.copy()
        out.append(g)
    return out


def _readonly(a: np.ndarray) -> np.ndarray:
    if a.flags.writeable:
        a.flags.writeable = False
    return a


# ---- recording ---------------------------------------------------------------------------------

def _result(value: Any, inputs: Tuple[Any, ...], backward: Backward) -> Tensor:
    """An op's result as a Tensor, recorded on each active tape that watches one of its inputs."""
    node = None
    if _state.tapes:
        tapes = [t for t in _state.tapes if any(t._watches(x) for x in inputs)]
        if tapes:
            node = Node(inputs, backward, tapes)
            for t in tapes:
                t._hold(inputs)
    return Tensor._wrap(value, node)


def _array(x: Any, name: str) -> np.ndarray:
    return x._value if isinstance(x, Tensor) else B.as_float32(x, name)


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise ValueError(f"{name}: out= takes numpy arrays only; with Tensors or Variables the "
                         f"result is a new Tensor (a tape may need every value)")


def _unbroadcast(g: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """The gradient of an operand that broadcasting stretched to g's shape: g summed over the
    axes broadcasting added or stretched."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return np.reshape(B.sum(g, axis=axes), shape)


def _expand(g: Any, shape: Tuple[int, ...], axes: Tuple[int, ...], scale: float) -> np.ndarray:
    """The gradient of a reduction's input: g (reduced over ``axes``) times ``scale``, repeated
    along those axes — one kernel pass over a stride-0 view."""
    kept = tuple(1 if d in axes else n for d, n in enumerate(shape))
    return B.binary(B.MULTIPLY, "multiply", np.reshape(g, kept),
                    np.broadcast_to(np.float32(scale), shape))


# ---- the gradient rules: one per op (called by fastnn.ops when an input is a Tensor) ----------

def _mul(a: Any, b: Any) -> np.ndarray:
    return B.binary(B.MULTIPLY, "multiply", a, b)


def _negative(g: np.ndarray) -> np.ndarray:
    return _mul(g, -1.0)


def _select_backward(g: np.ndarray, b_lead: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """maximum / minimum: g goes to b where ``b_lead > 0`` (b strictly wins), else to a, so
    ties go to a, as in TensorFlow."""
    gb = B.binary(B.RELU_GRAD, "relu_grad", g, b_lead)
    return B.binary(B.SUBTRACT, "subtract", g, gb), gb


def _divide_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray,
                     out: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    ga = B.binary(B.DIVIDE, "divide", g, b)
    return ga, _negative(_mul(ga, out))  # d(a/b)/db = -a/b^2 = -(1/b) * out


def _sub(a: Any, b: Any) -> np.ndarray:
    return B.binary(B.SUBTRACT, "subtract", a, b)


# code -> (g, a, b, out) -> (gradient of a, gradient of b), before un-broadcasting
_BINARY_BACKWARD: Dict[Any, Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                                     Tuple[np.ndarray, np.ndarray]]] = {
    B.ADD: lambda g, a, b, out: (g, g),
    B.SUBTRACT: lambda g, a, b, out: (g, _negative(g)),
    B.MULTIPLY: lambda g, a, b, out: (_mul(g, b), _mul(g, a)),
    B.DIVIDE: _divide_backward,
    B.MAXIMUM: lambda g, a, b, out: _select_backward(g, _sub(b, a)),
    B.MINIMUM: lambda g, a, b, out: _select_backward(g, _sub(a, b)),
}

# code -> (g, x, y) -> gradient of x, where y is the op's result
_UNARY_BACKWARD: Dict[Any, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    B.RELU: lambda g, x, y: B.binary(B.RELU_GRAD, "relu_grad", g, y),  # 0 at x == 0, as in Keras
    B.SIGMOID: lambda g, x, y: B.binary(B.SIGMOID_GRAD, "sigmoid_grad", g, y),
    B.TANH: lambda g, x, y: B.binary(B.TANH_GRAD, "tanh_grad", g, y),
    B.EXP: lambda g, x, y: _mul(g, y),
    B.LOG: lambda g, x, y: B.binary(B.DIVIDE, "divide", g, x),
}


def binary(code: Any, name: str, a: Any, b: Any, out: Any = None) -> Tensor:
    """``code(a, b)`` with broadcasting, recorded."""
    _no_out(out, name)
    av, bv = _array(a, "a"), _array(b, "b")
    value = B.binary(code, name, av, bv)
    backward = _BINARY_BACKWARD[code]

    def grads(g: np.ndarray) -> Grads:
        ga, gb = backward(g, av, bv, value)
        return _unbroadcast(ga, av.shape), _unbroadcast(gb, bv.shape)
    return _result(value, (a, b), grads)


def unary(code: Any, x: Any, out: Any = None) -> Tensor:
    """``code(x)`` element by element, recorded; a sigmoid's result remembers its logits."""
    _no_out(out, "unary op")
    xv = _array(x, "x")
    value = B.unary(code, xv)
    backward = _UNARY_BACKWARD[code]
    result = _result(value, (x,), lambda g: (backward(g, xv, value),))
    if code == B.SIGMOID:
        result._logits = ("sigmoid", x)
    return result


def absolute(x: Any) -> Tensor:
    """``|x|``, recorded; its gradient at 0 is 0, as Keras takes it."""
    xv = _array(x, "x")
    return _result(B.absolute(xv), (x,), lambda g: (_mul(g, B.sign(xv)),))


def matmul(a: Any, b: Any, out: Any = None, trans_a: bool = False, trans_b: bool = False,
           alpha: float = 1.0, beta: float = 0.0, precision: str = "float32") -> Tensor:
    """``alpha * op(a) @ op(b)``, recorded; the gradients' GEMMs in the same precision."""
    _no_out(out, "matmul")
    if beta != 0.0:
        raise ValueError("matmul: beta needs out=, which takes numpy arrays only")
    av, bv = _array(a, "a"), _array(b, "b")
    value = B.matmul(av, bv, trans_a=trans_a, trans_b=trans_b, alpha=alpha, precision=precision)

    def grads(g: np.ndarray) -> Grads:
        # C = alpha op(A) op(B): dop(A) = alpha G op(B)^T, dop(B) = alpha op(A)^T G, with the
        # flags choosing which operand is read transposed; an N-d A is a stack of rows (np.dot).
        a2 = av if av.ndim == 2 else av.reshape(math.prod(av.shape[:-1]), av.shape[-1])
        b2 = bv if bv.ndim == 2 else bv.reshape(-1, 1)
        g2 = g if g.ndim == 2 and av.ndim == 2 else g.reshape(a2.shape[0], b2.shape[1])
        p = precision
        if trans_a:
            ga = B.matmul(b2, g2, trans_a=trans_b, trans_b=True, alpha=alpha, precision=p)
        else:
            ga = B.matmul(g2, b2, trans_b=not trans_b, alpha=alpha, precision=p)
        if trans_b:
            gb = B.matmul(g2, a2, trans_a=True, trans_b=trans_a, alpha=alpha, precision=p)
        else:
            gb = B.matmul(a2, g2, trans_a=not trans_a, alpha=alpha, precision=p)
        return ga.reshape(av.shape), gb.reshape(bv.shape)
    return _result(value, (a, b), grads)


def dense(x: Any, kernel: Any, bias: Any, activation: str, bf16: bool = False) -> Tensor:
    """``activation(x @ kernel + bias)`` by the C++ dense pair: forward with the bias and the
    activation in the GEMM's epilogue, backward as dense_backward after the activation's
    derivative; bf16: every GEMM on bfloat16 operands."""
    xv = x if isinstance(x, B.SparseRows) else _array(x, "x")
    kv = _array(kernel, "kernel")
    bv = None if bias is None else _array(bias, "bias")
    y = B.dense(xv, kv, bv, activation, bf16)
    act_grad = B.ACTIVATION_GRAD.get(activation)
    # Which gradients some recording tape wants, decided now (as the tapes decide what to
    # record): a frozen kernel or a batch of data gets no GEMM.
    tapes = _state.tapes
    want = [isinstance(v, Tensor) and any(t._watches(v) for t in tapes) for v in (x, kernel, bias)]

    def grads(g: np.ndarray) -> Grads:
        dz = g if act_grad is None else B.binary(act_grad, "activation gradient", g, y)
        return B.dense_backward(dz, xv, kv, want[0], want[1], want[2] and bv is not None, bf16)
    return _result(y, (x, kernel, bias), grads)


def dropout(x: Any, rate: float, seed: int, counter: int) -> Tensor:
    """``x * mask`` with the C++ kernel's mask for (seed, counter), recorded."""
    xv = _array(x, "x")
    y, mask = B.dropout(xv, rate, seed, counter)
    return _result(y, (x,), lambda g: (_mul(g, mask),))


def concatenate(xs: Sequence[Any], axis: int) -> Tensor:
    """The inputs joined along ``axis``, recorded: the gradient is split back."""
    values = [_array(x, f"input {i}") for i, x in enumerate(xs)]
    value = B.concatenate(values, axis)
    ax = axis % value.ndim
    bounds = np.cumsum([v.shape[ax] for v in values])[:-1]
    return _result(value, tuple(xs), lambda g: tuple(np.split(g, bounds, axis=ax)))


def reduce(name: str, x: Any, axis: Any, keepdims: bool, out: Any = None) -> Tensor:
    """sum or mean, recorded."""
    _no_out(out, name)
    xv = _array(x, "x")
    axes = B.normalize_axes(axis, xv.ndim, name)
    value = B.sum(xv, axis=axes, keepdims=keepdims) if name == "sum" else \
        B.mean(xv, axis=axes, keepdims=keepdims)
    count = math.prod(xv.shape[d] for d in axes)
    scale = 1.0 if name == "sum" else 1.0 / max(count, 1)
    return _result(value, (x,), lambda g: (_expand(g, xv.shape, axes, scale),))


def softmax(x: Any, axis: int = -1, out: Any = None) -> Tensor:
    """Softmax along ``axis``, recorded; the result remembers its logits."""
    _no_out(out, "softmax")
    xv = _array(x, "x")
    y = B.softmax(xv, axis=axis)

    def grads(g: np.ndarray) -> Grads:
        # dx = y * (g - sum(g * y)) along the axis: the Jacobian diag(y) - y y^T applied to g
        s = B.sum(_mul(g, y), axis=axis, keepdims=True)
        return (_mul(y, _sub(g, s)),)
    result = _result(y, (x,), grads)
    if xv.ndim == 2 and axis in (-1, 1):
        result._logits = ("softmax", x)
    return result


def softmax_cross_entropy(logits: Any, labels: Any,
                          reduction: str) -> Tuple[Tensor, np.ndarray]:
    """Softmax cross-entropy whose gradient is the fused kernel's."""
    zv = _array(logits, "logits")
    loss, grad = B.softmax_cross_entropy(zv, labels, reduction=reduction)
    # The fused kernel already wrote d(mean)/d(logits) = (softmax - y) / n: the backward only
    # scales it, by g for the mean, by n g_i for row i's own loss.
    if reduction == "mean":
        return _result(np.float32(loss), (logits,), lambda g: (_mul(grad, g),)), grad
    n = zv.shape[0]
    return _result(loss, (logits,), lambda g: (
        _mul(grad, _mul(np.reshape(g, (n, 1)), float(n))),)), grad


def sigmoid_cross_entropy(logits: Any, targets: Any) -> Tensor:
    """Element-wise binary cross-entropy on logits, recorded: the gradient is
    ``sigmoid(logits) - targets``."""
    zv = _array(logits, "logits")
    loss, grad = B.sigmoid_cross_entropy(zv, targets)
    return _result(loss, (logits,), lambda g: (_mul(grad, g),))


def reshape(x: Any, shape: Any) -> Tensor:
    """``x`` reshaped, recorded."""
    xv = _array(x, "x")
    value = np.reshape(xv, shape)
    if isinstance(x, Variable):  # a view would follow later assignments to the variable
        value = value.copy()
    return _result(value, (x,), lambda g: (np.reshape(g, xv.shape),))


def transpose(x: Any, axes: Any) -> Tensor:
    """``x`` with its axes permuted, recorded."""
    xv = _array(x, "x")
    value = np.transpose(xv, axes)
    if isinstance(x, Variable):
        value = value.copy()
    inverse = np.argsort(axes if axes is not None else range(xv.ndim)[::-1])
    return _result(value, (x,), lambda g: (np.transpose(g, inverse),))


def _power(x: Tensor, exponent: Any) -> Tensor:
    """``x ** p`` for a constant p, from recorded ops (so its gradient comes with them):
    repeated squaring for an integer p, as numpy's exact small powers do, else exp(p log x)
    (NaN for x < 0, as numpy gives for a fractional power)."""
    if isinstance(exponent, (bool, np.bool_)) or not isinstance(
            exponent, (int, float, np.integer, np.floating)):
        raise TypeError(f"** takes a constant exponent (a number); received "
                        f"{type(exponent).__name__}")
    p = float(exponent)
    if p != int(p) or abs(p) > 2**31:
        return unary(B.EXP, binary(B.MULTIPLY, "multiply", unary(B.LOG, x), p))
    n = abs(int(p))
    if n == 0:
        return Tensor._wrap(np.ones(x.shape, np.float32))
    result: Optional[Tensor] = None
    base = x
    while True:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if not n:
            break
        base = base * base
    assert result is not None
    return result if p > 0 else 1.0 / result
