"""Compiling a model's graph to one C++ program (``fastnn._C.Program``): each layer emits its
steps through a ProgramBuilder (``Layer._compile``), the builder folds output activations into
the losses and activation layers into the dense layers before them, and the program then runs a
whole training step, an evaluation batch or inference in one call, with the GIL released.

A graph that cannot be compiled raises NotCompilable with the reason, which the trainer reports
(``model.summary()``, ``model.execution_plan()``) before it runs the model op by op.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from .. import _C, regularizers
from .._locks import trainer_of
from ..autograd import Variable
from ..layers.base import NotCompilable
from ..layers.node import KerasTensor, Node

__all__ = ["ProgramBuilder", "NotCompilable", "FlatWeights"]

_ACTIVATIONS = {"linear": _C.Activation.linear, "relu": _C.Activation.relu,
                "sigmoid": _C.Activation.sigmoid, "tanh": _C.Activation.tanh,
                "softmax": _C.Activation.softmax}
_EPILOGUE_ACTIVATIONS = ("relu", "sigmoid", "tanh")


class FlatWeights:
    """A model's weights moved into one flat float32 buffer, trainable ones first (in the
    order of ``trainable_weights``), each Variable a view into it; and one flat gradient buffer
    for the trainable ones. The optimizer's slots mirror the trainable part, so its update is one
    pass over all of them (llm.c's layout).

    Args:
        trainable: the model's trainable weights.
        frozen: its other weights.
    """

    def __init__(self, trainable: Sequence[Variable], frozen: Sequence[Variable]) -> None:
        self.variables = list(trainable) + list(frozen)
        self.n_trainable = int(sum(v.size for v in trainable))
        total = int(sum(v.size for v in self.variables))
        self.params = np.empty(total, np.float32)
        self.grads = np.zeros(self.n_trainable, np.float32)
        self.offsets: Dict[int, int] = {}
        self.views: List[np.ndarray] = []
        offset = 0
        for v in self.variables:
            n = v.size
            self.params[offset:offset + n] = v._value.reshape(-1)
            view = self.params[offset:offset + n].reshape(v.shape)
            v._set_storage(view)
            self.views.append(view)
            self.offsets[id(v)] = offset
            offset += n

    def claim(self) -> None:
        """Brings back into this buffer (with their current values) the variables that left it:
        another model that shares them made its own buffer, or a tape held a value as it was
        assigned. The program reads this buffer, so every step claims it first.

        Raises:
            RuntimeError: a variable to bring back is being trained in another thread (by a
                model sharing it): moving it would lose that training's updates.
        """
        me = threading.get_ident()
        for v, view in zip(self.variables, self.views):
            if v._value is not view:
                if trainer_of(v) not in (None, me):
                    raise RuntimeError(
                        f"the weight {v.name!r} is shared with a model that is training in "
                        f"another thread; this model can run once that training returns")
                view[...] = v._value
                v._set_storage(view)

    def offset(self, v: Variable) -> int:
        """Where ``v`` starts in the flat buffer."""
        return self.offsets[id(v)]

    def trainable(self, v: Variable) -> bool:
        """Whether ``v`` is in the trainable part."""
        return self.offsets[id(v)] < self.n_trainable


class _Step:
    __slots__ = ("kind", "inputs", "out", "input", "act", "w", "b", "trainable", "rate", "state",
                 "bf16")

    def __init__(self, kind: Any, inputs: List[int], out: int, **fields: Any) -> None:
        self.kind = kind
        self.inputs = inputs
        self.out = out
        self.input = fields.get("input", -1)
        self.act = fields.get("act", "linear")
        self.w = fields.get("w", -1)
        self.b = fields.get("b", -1)
        self.trainable = fields.get("trainable", False)
        self.rate = fields.get("rate", 0.0)
        self.state = fields.get("state")
        self.bf16 = fields.get("bf16", False)


class ProgramBuilder:
    """Collects a graph's steps over values (per-sample widths), as each layer's ``_compile``
    emits them.

    Args:
        weights: the model's flat weights (offsets of each Variable).
    """

    def __init__(self, weights: FlatWeights) -> None:
        self.weights = weights
        self.widths: List[int] = []
        self.steps: List[_Step] = []
        self.regularized: Dict[int, Tuple[int, int, float, float]] = {}
        self._env: List[Dict[int, int]] = [{}]
        self._producer: Dict[int, int] = {}

    # ---- values ----------------------------------------------------------------------------------
    def value(self, t: KerasTensor) -> int:
        """The value of a symbolic tensor already compiled in the current scope."""
        try:
            return self._env[-1][id(t)]
        except KeyError:
            raise NotCompilable(f"{t!r} is used before it is computed") from None

    def bind(self, t: KerasTensor, v: int) -> None:
        """Makes ``t`` stand for value ``v`` in the current scope."""
        self._env[-1][id(t)] = v

    @contextmanager
    def scope(self, env: Dict[int, int]) -> Iterator[None]:
        """Compiles a nested model's graph with its inputs standing for ``env``'s values."""
        self._env.append(env)
        try:
            yield
        finally:
            self._env.pop()

    def _new(self, width: int) -> int:
        self.widths.append(int(width))
        return len(self.widths) - 1

    def _step(self, kind: Any, inputs: List[int], width: int, **fields: Any) -> int:
        out = self._new(width)
        self._producer[out] = len(self.steps)
        self.steps.append(_Step(kind, inputs, out, **fields))
        return out

    # ---- the steps layers emit ------------------------------------------------------------------
    def input(self, index: int, width: int) -> int:
        """The value of model input ``index`` (its rows gathered per batch)."""
        return self._step(_C.StepKind.input, [], width, input=index)

    def dense(self, layer: Any, x: int, activation: str) -> int:
        """A Dense layer's step on value ``x`` with an epilogue activation (linear, relu,
        sigmoid, tanh); registers its regularizers."""
        w = self.weights
        trainable = layer.trainable and w.trainable(layer.kernel)
        b = -1 if layer.bias is None else w.offset(layer.bias)
        if trainable:
            for var, reg in layer._regularizers:
                self._regularize(layer, var, reg)
        return self._step(_C.StepKind.dense, [x], layer.units, act=activation,
                          w=w.offset(layer.kernel), b=b, trainable=trainable,
                          bf16=layer.dtype_policy.bfloat16_gemms)

    def _regularize(self, layer: Any, var: Variable, reg: Any) -> None:
        if not isinstance(reg, regularizers.L1L2):
            raise NotCompilable(f"layer '{layer.name}' has a custom regularizer "
                                f"({type(reg).__name__}): the C++ program runs l1 and l2 only")
        if not var.trainable:
            return
        off = self.weights.offset(var)
        self.regularized[off] = (off, var.size, reg.l1, reg.l2)

    def activation(self, x: int, activation: str) -> int:
        """An element-wise (or row-wise, softmax) activation of value ``x``."""
        if activation == "linear":
            return x
        if activation not in _ACTIVATIONS:
            raise NotCompilable(f"the activation {activation!r} has no C++ kernel")
        return self._step(_C.StepKind.activation, [x], self.widths[x], act=activation)

    def dropout(self, layer: Any, x: int) -> int:
        """A Dropout layer's step (its seed and call counter are the layer's own array)."""
        return self._step(_C.StepKind.dropout, [x], self.widths[x], rate=layer.rate,
                          state=layer._state)

    def merge(self, kind: str, xs: List[int]) -> int:
        """An element-wise merge ('add', 'subtract', 'multiply', 'average') of equal widths."""
        if len(xs) == 1:
            return xs[0] if kind != "subtract" else self._refuse_subtract()
        code = getattr(_C.StepKind, kind)
        if kind == "multiply" and len(xs) > 2:  # the kernel multiplies pairs, left to right
            out = self.merge(kind, xs[:2])
            for x in xs[2:]:
                out = self.merge(kind, [out, x])
            return out
        return self._step(code, list(xs), self.widths[xs[0]])

    @staticmethod
    def _refuse_subtract() -> int:
        raise NotCompilable("Subtract takes exactly 2 inputs")

    def concatenate(self, xs: List[int]) -> int:
        """The values joined along their last axis."""
        if len(xs) == 1:
            return xs[0]
        return self._step(_C.StepKind.concatenate, list(xs), sum(self.widths[x] for x in xs))

    def compile_node(self, node: Node) -> None:
        """Emits ``node``'s layer and binds its output tensors."""
        values = node.layer._compile(self, node)
        for t, v in zip(node.outputs, values):
            self.bind(t, v)

    # ---- finishing -------------------------------------------------------------------------------
    def finish(self, outputs: List[int]) -> Tuple[List[Tuple[int, str]], Dict[str, Any]]:
        """Folds activations, numbers the values afresh, and returns each output's (value its
        activation reads, activation) and the program's other constructor arguments."""
        consumers = self._consumers(outputs)
        heads: List[Tuple[int, str]] = []
        dropped = set()
        for v in outputs:
            p = self._producer.get(v)
            step = None if p is None else self.steps[p]
            if step is not None and consumers[v] == 1 and outputs.count(v) == 1:
                if step.kind == _C.StepKind.activation:
                    heads.append((step.inputs[0], step.act))  # it reads what the step read
                    dropped.add(p)
                    continue
                if step.kind == _C.StepKind.dense and step.act != "linear":
                    heads.append((v, step.act))
                    step.act = "linear"
                    continue
            heads.append((v, "linear"))
        # An activation layer right after a dense layer that nothing else reads runs in that
        # layer's GEMM epilogue: Dense(64) + Activation('relu') costs what Dense(64, 'relu') does.
        rename: Dict[int, int] = {}
        for i, step in enumerate(self.steps):
            step.inputs = [rename.get(x, x) for x in step.inputs]
            if i in dropped or step.kind != _C.StepKind.activation or \
                    step.act not in _EPILOGUE_ACTIVATIONS:
                continue
            x = step.inputs[0]
            p = self._producer.get(x)
            if p is None or p in dropped:
                continue
            below = self.steps[p]
            if below.kind == _C.StepKind.dense and below.act == "linear" and consumers[x] == 1 \
                    and all(h != x for h, _ in heads):
                below.act = step.act
                rename[step.out] = x
                dropped.add(i)
        heads = [(rename.get(z, z), act) for z, act in heads]
        kept = [s for i, s in enumerate(self.steps) if i not in dropped]
        # Compact numbering: only values some kept step writes.
        number: Dict[int, int] = {}
        widths: List[int] = []
        for s in kept:
            number[s.out] = len(widths)
            widths.append(self.widths[s.out])
        steps = []
        for s in kept:
            steps.append((s.kind, [number[x] for x in s.inputs], number[s.out], s.input,
                          _ACTIVATIONS[s.act], int(s.w), int(s.b), bool(s.trainable),
                          float(s.rate), s.state, bool(s.bf16)))
        heads = [(number[z], act) for z, act in heads]
        regs = [(off, n, float(l1), float(l2)) for off, n, l1, l2 in self.regularized.values()]
        return heads, {"widths": widths, "steps": steps, "regularizers": regs}

    def _consumers(self, outputs: List[int]) -> Dict[int, int]:
        count: Dict[int, int] = {v: 0 for v in range(len(self.widths))}
        for s in self.steps:
            for x in s.inputs:
                count[x] += 1
        for v in outputs:
            count[v] += 1
        return count


def activation_code(name: str) -> Any:
    """The program's code of an output activation."""
    return _ACTIVATIONS[name]
