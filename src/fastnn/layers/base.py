"""The Layer base class, as Keras' (``keras.layers.Layer``): the constructor stores settings,
``build(input_shape)`` makes the weights with ``add_weight``, ``call(inputs, training=None)``
computes with ``fastnn.ops``.

Calling a layer does one of two things. On symbolic tensors (``layers.Input``) it records a node
of a graph and returns symbolic tensors of the inferred shapes: the functional API. On arrays or
Tensors it computes, with ``fastnn.ops``: the result is a Tensor, because the weights are
Variables, so a GradientTape around the call differentiates it. A layer keeps nothing of a call
on ``self``: the same layer may run in several places of a graph and on several threads at once.

A layer used in a compiled model (one C++ call per training step) declares how in ``_compile``;
the default says it has no C++ kernel, and the model then trains op by op, saying why.
"""

from __future__ import annotations

import inspect
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _backend as B
from .. import dtype_policies, initializers, regularizers
from .._locks import Lock
from ..autograd import Tensor, Variable
from .node import KerasTensor, Node, flatten

if TYPE_CHECKING:
    from ..trainers.program import ProgramBuilder

__all__ = ["Layer", "InputSpec"]

Shape = Tuple[Optional[int], ...]


class NotCompilable(Exception):
    """Why a layer, a loss, a metric or an optimizer cannot run in a compiled program."""


def snake_case(name: str) -> str:
    """``InputLayer`` -> ``input_layer``, as Keras names layers after their class."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


_name_counts: Dict[str, int] = {}
_name_lock = Lock()  # fork-safe: a child may name layers


def unique_name(prefix: str) -> str:
    """``prefix``, then ``prefix_1``, ``prefix_2``, ... for later calls (Keras' auto names)."""
    with _name_lock:
        n = _name_counts.get(prefix, 0)
        _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names() -> None:
    """Starts automatic names afresh ('dense', 'dense_1', ...)."""
    with _name_lock:
        _name_counts.clear()


_structure = [0]


def structure_version() -> int:
    """A counter that moves whenever some layer's weights, sublayers or trainable flag change,
    or a model's graph does: what a compiled model was built from may then differ."""
    return _structure[0]


def structure_changed() -> None:
    """Moves ``structure_version`` (the layers call it; so do models that change their graph)."""
    _structure[0] += 1


class _CallContext(threading.local):
    """The ``training`` flag of the outermost call on this thread: a layer called without one
    inherits it, as in Keras (a subclassed model's ``call`` need not pass it on)."""

    def __init__(self) -> None:
        self.training: Optional[bool] = None


_context = _CallContext()

# ``source``, while ``models.saving`` loads a model file on this thread: a callable
# ``(layer name, weight name, shape, trainable) -> Variable`` that ``add_weight`` asks instead of
# running the initializer.
weights_from_file = threading.local()

# The dtype kinds a weight may be set from (integers, floats), by set_weights or a model file;
# stricter than Keras, which casts even complex or str.
WEIGHT_KINDS = "iuf"


class InputSpec:
    """What a built layer accepts: at least ``min_ndim`` axes, and fixed sizes on some axes.

    Args:
        min_ndim: the fewest axes an input may have (batch included). Defaults to None.
        axes: ``{axis: size}``, e.g. ``{-1: 784}`` for a Dense layer built on 784 features.
            Defaults to None.
    """

    def __init__(self, min_ndim: Optional[int] = None, axes: Optional[Dict[int, int]] = None):
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})

    def check(self, layer: str, index: int, shape: Shape) -> None:
        """Raises a ValueError naming the layer and the shapes when ``shape`` does not fit.

        Args:
            layer: the layer's name, for the message.
            index: the input's position, for the message.
            shape: the input's shape, batch axis first.
        """
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(f'Input {index} of layer "{layer}" is incompatible with the layer: '
                             f"expected min_ndim={self.min_ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {shape}")
        for axis, size in self.axes.items():
            if -len(shape) <= axis < len(shape) and shape[axis] not in (None, size):
                raise ValueError(f'Input {index} of layer "{layer}" is incompatible with the '
                                 f"layer: expected axis {axis} of input shape to have value "
                                 f"{size}, but received input with shape {shape}")


def _shape_arg(shape: Any, what: str) -> Tuple[Optional[int], ...]:
    """A per-sample shape argument as a tuple (an int counts as a 1-tuple)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a tuple of positive integers. "
                         f"Received: {shape!r}") from None
    if any(d is not None and d <= 0 for d in dims):
        raise ValueError(f"{what} must be a tuple of positive integers. Received: {shape!r}")
    return dims


def _shape_of(x: Any) -> Shape:
    return tuple(x.shape)


def _map(structure: Any, fn: Any) -> Any:
    if isinstance(structure, dict):
        return {k: _map(v, fn) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map(s, fn) for s in structure)
    return fn(structure)


class Layer:
    """Base class of fastnn's layers. Subclass it as in Keras: create weights in
    ``build(input_shape)`` with ``add_weight``, compute in ``call(inputs, training=None)`` with
    ``fastnn.ops``.

    Args:
        name: the layer's name. Defaults to None: the class name in snake case, numbered from the
            second layer of the class on ('dense', 'dense_1', ...).
        trainable: whether training updates the layer's weights. Defaults to True.
        dtype: the dtype policy (``dtype_policies``): 'float32', 'mixed_bfloat16' (GEMMs on
            bfloat16 operands, weights float32), a DTypePolicy, or a float32 dtype. Defaults to
            None: the global policy (``config.set_dtype_policy``) when the layer is made.
        input_shape: the per-sample input shape (no batch axis), for the first layer of a
            Sequential model. Defaults to None.
        input_dim: the same for 1-d inputs: ``input_dim=784`` is ``input_shape=(784,)``.

    Raises:
        ValueError: a bad input shape, or another dtype or policy.
    """

    _layers: List[Layer]  # the layers set as attributes (tracked by __setattr__)
    # Whether call() takes sparse rows (a scipy.sparse input of fit/evaluate/predict): Dense,
    # which multiplies them by its kernel in C++, and models, which pass them on to their layers.
    _takes_sparse = False

    def __init__(self, name: Optional[str] = None, trainable: bool = True, dtype: Any = None,
                 input_shape: Optional[Sequence[Optional[int]]] = None,
                 input_dim: Optional[int] = None) -> None:
        object.__setattr__(self, "_layers", [])
        self._dtype_policy = _policy_of(dtype)
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"A layer's name must be a non-empty string. Received: name={name!r}")
        self._trainable = bool(trainable)
        self.built = False
        self._trainable_variables: List[Variable] = []
        self._non_trainable_variables: List[Variable] = []
        self._regularizers: List[Tuple[Variable, Any]] = []
        self.input_spec: Optional[InputSpec] = None
        self._build_shapes: Any = None  # the input shape(s) it was built for, batch axis None
        self._inbound_nodes: List[Node] = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg: Optional[Tuple[Optional[int], ...]] = (
            None if input_shape is None else _shape_arg(input_shape, "input_shape"))
        self._call_has_training = "training" in inspect.signature(self.call).parameters

    # ---- attributes: sublayers and weights are tracked -----------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_layers" not in self.__dict__:
            object.__setattr__(self, "_layers", [])
        if not name.startswith("_") or name == "_layers":
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, Layer) and item is not self and item not in self._layers:
                    self._layers.append(item)
                    structure_changed()
                elif isinstance(item, Variable) and "_trainable_variables" in self.__dict__:
                    known = self._trainable_variables + self._non_trainable_variables
                    if not any(v is item for v in known):
                        (self._trainable_variables if item.trainable
                         else self._non_trainable_variables).append(item)
                        structure_changed()
        object.__setattr__(self, name, value)

    @property
    def trainable(self) -> bool:
        """Whether training updates this layer's weights (and its sublayers'). Setting it to
        False freezes them: they leave ``trainable_weights``, and ``fit`` neither computes their
        gradients nor updates them."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        structure_changed()
        for layer in self._sublayers():
            layer.trainable = value

    @property
    def dtype_policy(self) -> dtype_policies.DTypePolicy:
        """The layer's dtype policy (``dtype_policies``). Setting it (a name or a policy) changes
        what the layer's GEMMs compute in from the next call or compile on."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value: Any) -> None:
        self._dtype_policy = _policy_of(value)
        structure_changed()  # a compiled program's steps carry their precision

    @property
    def compute_dtype(self) -> str:
        """'float32', or 'bfloat16' under mixed_bfloat16 (the GEMMs' operands)."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        """'float32': weights are float32 under every policy."""
        return self._dtype_policy.variable_dtype

    @property
    def dtype(self) -> str:
        """The weights' dtype, 'float32' (Keras' ``layer.dtype``, the variable dtype)."""
        return self._dtype_policy.variable_dtype

    @property
    def layers(self) -> List[Layer]:
        """The layers this one holds (its attributes), in the order they were set."""
        return list(self._layers)

    # ---- weights ---------------------------------------------------------------------------------
    def add_weight(self, shape: Sequence[int] = (), initializer: Any = "glorot_uniform",
                   dtype: Any = None, trainable: bool = True, regularizer: Any = None,
                   name: Optional[str] = None) -> Variable:
        """Creates a weight of this layer, a ``fastnn.Variable`` (call it from ``build``).

        Args:
            shape: the weight's shape. Defaults to () (a scalar).
            initializer: an initializer name ('glorot_uniform', 'zeros', ...) or a callable
                ``f(shape)``. Defaults to 'glorot_uniform'.
            dtype: 'float32' or None. Defaults to None.
            trainable: whether training updates it. Defaults to True.
            regularizer: a penalty on it, added to the loss (e.g. ``regularizers.l2(1e-3)``).
                Defaults to None.
            name: its name, e.g. 'kernel'. Defaults to None.

        Returns:
            The Variable, also listed in ``weights``.

        Raises:
            ValueError: an unknown initializer or regularizer, or a dtype other than float32;
                while a model file loads, a shape that the file's next array does not have.
        """
        if dtype is not None and np.dtype(dtype) != np.float32:
            raise ValueError(f"fastnn weights are float32. Received: dtype={dtype!r}")
        shape = tuple(int(d) for d in shape)
        init = initializers.get(initializer)
        # While a model file loads on this thread, the file makes the weight: its saved array is
        # checked against the shape before anything is allocated, and no initializer runs.
        from_file = getattr(weights_from_file, "source", None)
        var = (from_file(self.name, name, shape, trainable) if from_file is not None
               else Variable(init(shape), trainable=trainable, name=name))
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        structure_changed()
        reg = regularizers.get(regularizer)
        if reg is not None:
            self._regularizers.append((var, reg))
        return var

    def _own_weights(self, trainable: Optional[bool] = None) -> List[Variable]:
        if trainable is None:
            return self._trainable_variables + self._non_trainable_variables
        if trainable:
            return list(self._trainable_variables) if self.trainable else []
        return (list(self._non_trainable_variables) if self.trainable
                else self._trainable_variables + self._non_trainable_variables)

    def _all_layers(self) -> List[Layer]:
        """This layer and every layer under it, each once, depth first."""
        found: List[Layer] = []
        seen = set()
        stack = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return found

    def _sublayers(self) -> List[Layer]:
        return list(self._layers)

    def _collect(self, trainable: Optional[bool]) -> List[Variable]:
        out: List[Variable] = []
        seen = set()
        for layer in self._all_layers():
            for v in layer._own_weights(trainable):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def weights(self) -> List[Variable]:
        """Every weight (trainable ones first within each layer), Variables; empty before the
        layer is built."""
        return self._collect(None)

    @property
    def variables(self) -> List[Variable]:
        """The same as ``weights``."""
        return self.weights

    @property
    def trainable_weights(self) -> List[Variable]:
        """The weights training updates: none while ``trainable`` is False."""
        return self._collect(True)

    @property
    def non_trainable_weights(self) -> List[Variable]:
        """The weights training leaves alone (all of them while ``trainable`` is False)."""
        return self._collect(False)

    @property
    def trainable_variables(self) -> List[Variable]:
        """The same as ``trainable_weights``."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> List[Variable]:
        """The same as ``non_trainable_weights``."""
        return self.non_trainable_weights

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights, as numpy arrays, in ``weights``' order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets the weights from arrays in ``weights``' order and shapes (copied, as float32).

        Args:
            weights: one array per weight.

        Raises:
            ValueError: a layer not built yet, a wrong number of arrays, a wrong shape (both
                named), or an array of another kind than integers or floats (bool, complex,
                strings, dates). Nothing is written unless every array fits.
        """
        targets = self.weights
        if not self.built and not targets:
            raise ValueError(f"set_weights: '{self.name}' is not built yet (give it an input "
                             f"shape, or call it on data first)")
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: '{self.name}' has {len(targets)} weight arrays; "
                             f"received {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for i, (t, w) in enumerate(zip(targets, arrays)):
            if w.dtype.kind not in WEIGHT_KINDS:
                raise ValueError(f"set_weights: weight {i} must hold integers or floats. "
                                 f"Received: dtype={w.dtype}")
            if w.shape != t.shape:
                raise ValueError(f"set_weights: weight {i} has shape {t.shape}; received {w.shape}")
        for t, w in zip(targets, arrays):
            t.assign(w)

    def count_params(self) -> int:
        """The number of scalars in the weights (0 before the layer is built)."""
        return int(sum(v.size for v in self.weights))

    @property
    def losses(self) -> List[Any]:
        """The regularization penalties of the trainable weights, computed now (Tensors, so a
        GradientTape around them differentiates them)."""
        out: List[Any] = []
        for layer in self._all_layers():
            if not layer.trainable:
                continue
            for var, reg in layer._regularizers:
                if var.trainable:
                    out.append(reg(var))
        return out

    # ---- building --------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Creates the weights for inputs of ``input_shape`` (batch axis first, None where
        unknown; a list of shapes for several inputs). The base class creates none.

        Args:
            input_shape: a shape tuple, or a list of them.
        """

    def _maybe_build(self, shapes: Any) -> None:
        if self.built:
            return
        self.build(shapes)
        self.built = True
        self._build_shapes = _none_batch(shapes)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for an input shape (batch axis first). The base class finds it by
        calling the layer on zeros of that shape (one sample); layers override it.

        Args:
            input_shape: a shape tuple, or a list of them.

        Returns:
            The output's shape tuple (or a list of them), batch axis None.
        """
        def zeros(shape: Shape) -> np.ndarray:
            return np.zeros((1,) + tuple(1 if d is None else d for d in shape[1:]), np.float32)
        probe = zeros(input_shape) if _is_shape(input_shape) else [zeros(s) for s in input_shape]
        out = self._run(probe, {"training": False})
        return _map(out, lambda t: (None,) + tuple(np.shape(t)[1:]))

    # ---- calling ---------------------------------------------------------------------------------
    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        """The layer's computation, written with ``fastnn.ops``. The base class returns its
        inputs.

        Args:
            inputs: an array or Tensor (a list of them for merging layers).
            training: True in ``fit``: layers such as Dropout act only then. Defaults to None,
                which inherits the enclosing call's value (False at the top).

        Returns:
            The output: a Tensor when the weights or the inputs are Tensors.
        """
        return inputs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 1:
            raise TypeError(f"layer '{self.name}' takes one positional argument, its inputs (a "
                            f"list of tensors for several); received {len(args)}")
        if args:
            inputs = args[0]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError(f"layer '{self.name}' was called without inputs")
        leaves = flatten(inputs)
        symbolic = [isinstance(t, KerasTensor) for t in leaves]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(f"layer '{self.name}' was called on symbolic tensors "
                                f"(layers.Input) mixed with data; give it one or the other")
            return self._call_symbolic(inputs, kwargs)
        converted = _map(inputs, lambda x: x if isinstance(x, (Tensor, B.SparseRows))
                         else B.as_float32(x, "inputs"))
        if not self._takes_sparse and any(isinstance(x, B.SparseRows) for x in flatten(converted)):
            raise TypeError(f"layer '{self.name}' ({type(self).__name__}) was given a sparse "
                            f"matrix: only Dense layers take sparse inputs (make the layer that "
                            f"reads the model's sparse input a Dense layer)")
        shapes = _map(converted, _shape_of)
        self._maybe_build(shapes)
        self._check_inputs(shapes)
        return self._run(converted, kwargs)

    def _run(self, inputs: Any, kwargs: Dict[str, Any]) -> Any:
        training = kwargs.pop("training", None)
        outer = _context.training
        if training is None:
            training = outer
        _context.training = training
        try:
            if self._call_has_training:
                return self.call(inputs, training=training, **kwargs)
            return self.call(inputs, **kwargs)
        finally:
            _context.training = outer

    def _call_symbolic(self, inputs: Any, kwargs: Dict[str, Any]) -> Any:
        shapes = _map(inputs, lambda t: t.shape)
        self._maybe_build(shapes)
        self._check_inputs(shapes)
        out_shapes = self.compute_output_shape(shapes)
        as_list = isinstance(inputs, (list, tuple))
        if _is_shape(out_shapes):
            outputs: Any = KerasTensor(out_shapes, name=self.name)
            out_list = [outputs]
        else:
            out_list = [KerasTensor(s, name=self.name) for s in out_shapes]
            outputs = out_list
        node = Node(self, list(inputs) if as_list else [inputs], out_list, as_list, kwargs)
        self._inbound_nodes.append(node)
        return outputs

    def _check_inputs(self, shapes: Any) -> None:
        if self.input_spec is None:
            return
        for i, s in enumerate([shapes] if _is_shape(shapes) else shapes):
            self.input_spec.check(self.name, i, s)

    # ---- the graph this layer is in --------------------------------------------------------------
    def _first_call(self, what: str) -> Node:
        if not self._inbound_nodes:
            raise AttributeError(f"layer '{self.name}' has not been called on symbolic tensors "
                                 f"(layers.Input), so it has no defined {what}")
        return self._inbound_nodes[0]

    @property
    def input(self) -> Any:
        """The symbolic input of the layer's first call in a graph (a list for merging layers).

        Raises:
            AttributeError: the layer was never called on symbolic tensors.
        """
        node = self._first_call("input")
        return list(node.inputs) if node.as_list else node.inputs[0]

    @property
    def output(self) -> Any:
        """The symbolic output of the layer's first call in a graph.

        Raises:
            AttributeError: the layer was never called on symbolic tensors.
        """
        outs = self._first_call("output").outputs
        return outs[0] if len(outs) == 1 else list(outs)

    # ---- compiling to C++ ------------------------------------------------------------------------
    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        """The program's values for this node's outputs, emitted through ``builder``; raises
        NotCompilable with the reason when the layer has no C++ kernel for it."""
        raise NotCompilable(f"layer '{self.name}' ({type(self).__name__}) has no C++ kernel")

    # ---- configuration ---------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments, as a model file stores them (the class method
        from_config inverts it).

        Returns:
            A dict of JSON-friendly values.
        """
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self._dtype_policy.name != "float32":  # float32 files stay as they were
            config["dtype"] = self._dtype_policy.name
        if self._input_shape_arg is not None:
            config["input_shape"] = list(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Layer:
        """A new layer from ``get_config``'s dict (with fresh weights).

        Args:
            config: the dict.

        Returns:
            The layer.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _policy_of(dtype: Any) -> dtype_policies.DTypePolicy:
    """A layer's policy from its dtype argument: what ``dtype_policies.get`` takes, or a float32
    numpy dtype (as layers took before fastnn had policies)."""
    if not (dtype is None or isinstance(dtype, (dict, dtype_policies.DTypePolicy))):
        try:
            if np.dtype(dtype) == np.float32:
                return dtype_policies.DTypePolicy("float32")
        except TypeError:
            pass  # not a dtype either: get refuses it, naming the policies fastnn has
    return dtype_policies.get(dtype)


def _is_shape(x: Any) -> bool:
    """A shape tuple (of ints and Nones), as opposed to a list of shapes."""
    return isinstance(x, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _none_batch(shapes: Any) -> Any:
    """Shape(s) with the batch axis unknown, as a built layer records them."""
    if _is_shape(shapes):
        return (None,) + tuple(shapes[1:])
    return [(None,) + tuple(s[1:]) for s in shapes]
