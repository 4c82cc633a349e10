"""ONNX export: a Sequential or functional model as an ONNX graph of what ``predict`` computes
(Dropout is the identity), float32 throughout, its weights stored as initializers. The graph is
built with the ``onnx`` package's helpers, which fastnn needs only here: it is imported by
``export_onnx`` itself (``pip install "fastnn[onnx]"``).

Every fastnn layer maps to a few standard ONNX operators: Dense is MatMul (which multiplies
inputs of any rank >= 2 by the kernel, as ``ops.dense`` does), Add and the activation; the merge
layers are chains of Add, Sub and Mul, whose broadcasting is numpy's, as fastnn's; Flatten,
Reshape and Concatenate are their namesakes. The graph's inputs and outputs take the names
``model.input_names`` and ``model.output_names`` give (the Input layers' and output layers'
names, or a dict's keys): the names ``predict`` takes in a dict. The batch axis is the symbolic
dimension ``batch``, so any batch size runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, activations
from ..layers import (
    Activation,
    Add,
    Average,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Multiply,
    Reshape,
    Subtract,
)
from ..layers.base import Layer
from ..layers.node import KerasTensor, Node
from .functional import Functional
from .model import Model
from .saving import EXPORTERS, write_atomically

__all__ = ["DEFAULT_OPSET", "export_onnx"]

# Opset 17 (ONNX 1.12, 2022) runs on onnxruntime >= 1.12 and on most other runtimes (TensorRT
# 8.6, OpenVINO); every operator used here has kept its opset-13 semantics since then, so a newer
# default would only lock out older runtimes.
DEFAULT_OPSET = 17
# Before opset 13, Softmax flattened its input to 2-D at ``axis``: on inputs of rank > 2 it would
# normalise over all trailing axes instead of the last one.
MIN_OPSET = 13
# protobuf cannot serialize a message of 2 GiB or more; such a model would need ONNX's external
# data files, which one atomic file cannot hold.
_MAX_PROTO_BYTES = 2**31 - 1

# The built-in activations and their ONNX operators ('linear' is no operator at all).
_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}


def export_onnx(model: Any, filepath: str | os.PathLike[str], opset: int | None = None) -> None:
    """Writes an ONNX model of what ``model.predict`` computes, for inference (onnxruntime and
    other ONNX runtimes), atomically: a failure leaves an existing file as it was.

    ::

        export_onnx(model, "model.onnx")
        session = onnxruntime.InferenceSession("model.onnx")
        probs = session.run(None, {model.input_names[0]: x})[0]   # == model.predict(x)

    The graph has one input per model input, named as ``model.input_names``, and one output
    per model output, named as ``model.output_names``; every input's first axis is the symbolic
    batch axis ``batch``. The file is checked with ``onnx.checker`` before it is written.

    Args:
        model: a built Sequential or functional model (nested ones included) of fastnn's layers:
            InputLayer, Dense, Activation, Dropout, Add, Subtract, Multiply, Average,
            Concatenate, Flatten, Reshape.
        filepath: the file to write (``'model.onnx'``); an existing file is replaced and keeps
            its permission bits.
        opset: the ONNX opset (default opset) version, from 13 to the newest the installed
            ``onnx`` knows. Defaults to None: ``DEFAULT_OPSET``, 17.

    Raises:
        ImportError: the ``onnx`` package is not installed.
        NotImplementedError: a layer with no ONNX form (a custom Layer subclass, a subclassed
            model, a custom activation, Dropout called with ``training=True``); the message
            names the layer.
        ValueError: an unbuilt model, an opset out of range, an output named like an input, or
            a model of 2 GiB or more.
        OSError: the folder does not exist or cannot be written.
    """
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f'ONNX export needs the onnx package ({e}): pip install "fastnn[onnx]"'
                          ) from e

    newest = int(onnx.defs.onnx_opset_version())
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an integer from {MIN_OPSET} to {newest} (the newest the "
                         f"installed onnx {onnx.__version__} knows). Received: opset={opset!r}")
    if not isinstance(model, Functional) or type(model).call is not Functional.call:
        name = getattr(model, "name", "?")
        raise NotImplementedError(
            f"export_onnx exports Sequential and functional models; '{name}' "
            f"({type(model).__name__}) is a subclassed model, whose call() is Python code")
    if not model.built:
        raise ValueError(f"model '{model.name}' is not built yet: give it an Input (or its first "
                         f"layer an input_shape), or call build, fit or predict first")

    graph = _GraphBuilder(onnx, model)
    proto = graph.model(model.name, int(opset), __version__)
    if proto.ByteSize() > _MAX_PROTO_BYTES:
        raise ValueError(f"model '{model.name}' takes {proto.ByteSize()} bytes as ONNX; one "
                         f"ONNX file holds less than 2 GiB (protobuf's limit)")
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    write_atomically(Path(filepath), lambda f: f.write(data))


Converter = Callable[["_GraphBuilder", Layer, Node, list[str], bool], list[str]]


class _GraphBuilder:
    """Collects the ONNX nodes and initializers of a model's graph. Values are named as the
    graph goes; a layer that changes nothing (Dropout, a linear Activation) passes its input's
    name on instead of adding an Identity node."""

    def __init__(self, onnx: Any, model: Functional) -> None:
        self.onnx = onnx
        self.inputs: list[KerasTensor] = list(model.inputs)
        self.input_names = list(model.input_names)
        self.output_names = list(model.output_names)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        # The graph's input and output names are taken first: no inner value may have one.
        self.used: set[str] = set(self.input_names) | set(self.output_names)
        self.weights: dict[int, str] = {}  # id(Variable) -> initializer name: shared layers
        self.graph_outputs: list[str] = []
        self.renamed: dict[str, str] = {}  # inner value -> the output name it was given
        self.add_graph(model)

    # ---- names, nodes, constants -----------------------------------------------------------------
    def unique(self, base: str) -> str:
        """base, or base_1, base_2, ... : the first name no value or node has yet."""
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attrs: Any) -> str:
        """Adds one node of one output, named after the layer and the operator; returns the
        output's name."""
        out = self.unique(f"{prefix}/{op}")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def constant(self, array: np.ndarray, name: str) -> str:
        """An initializer holding array (already of the dtype it must have)."""
        name = self.unique(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def weight(self, layer: Layer, var: Any, what: str) -> str:
        """The initializer of a layer's weight, made once however often the layer is called."""
        key = id(var)
        if key not in self.weights:
            array = np.ascontiguousarray(np.asarray(var), dtype=np.float32)
            self.weights[key] = self.constant(array, f"{layer.name}/{what}")
        return self.weights[key]

    def activation(self, layer: Layer, act: Any, x: str) -> str:
        if not isinstance(act, str) or (act != "linear" and act not in _ACTIVATION_OPS):
            raise NotImplementedError(
                f"layer '{layer.name}' ({type(layer).__name__}) has the activation "
                f"{activations.serialize(act)!r}, which has no ONNX form; export_onnx knows "
                f"{', '.join(sorted(['linear', *_ACTIVATION_OPS]))}")
        if act == "linear":
            return x
        if act == "softmax":  # over the last axis, as activations.softmax
            return self.node("Softmax", [x], layer.name, axis=-1)
        return self.node(_ACTIVATION_OPS[act], [x], layer.name)

    # ---- graphs ----------------------------------------------------------------------------------
    def add_graph(self, model: Functional) -> None:
        """The top-level graph: its inputs become the ONNX graph's inputs, its outputs its
        outputs."""
        values = {id(t): name for t, name in zip(self.inputs, self.input_names)}
        results = self.inline(model, values, training=False)
        for value, name in zip(results, self.output_names):
            if name in self.input_names and value != name:
                raise ValueError(f"ONNX names each value once, but {name!r} names both an input "
                                 f"and an output of model '{model.name}'; rename one of them")
        for value, name in zip(results, self.output_names):
            self.graph_outputs.append(self.name_output(value, name))

    def inline(self, model: Functional, values: dict[int, str], training: bool) -> list[str]:
        """Converts each node of model's graph, in order, given the names of its inputs' values
        (``values``, by id of the input tensors); returns its outputs' names."""
        for node in model._nodes:
            if not node.inputs:
                continue  # an InputLayer: its value is given
            args = [values[id(t)] for t in node.inputs]
            # As Functional.call: a call's own training argument wins; None inherits.
            flag = node.kwargs.get("training")
            outs = self.convert(node.layer, node, args, training if flag is None else bool(flag))
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
        return [values[id(t)] for t in model.outputs]

    def name_output(self, value: str, name: str) -> str:
        """Makes the value ``value`` the graph output ``name``: the node that computes it writes
        ``name`` directly, unless the value is an input, another output or the same name, which
        take an Identity node."""
        value = self.renamed.get(value, value)
        if value == name:  # an input that is also an output, under one name
            return name
        produced = any(value in n.output for n in self.nodes)
        if not produced or value in self.graph_outputs:
            self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name],
                                                         name=self.unique(f"{name}/Identity")))
            return name
        for n in self.nodes:
            for field in (n.input, n.output):
                for i, v in enumerate(field):
                    if v == value:
                        field[i] = name
        self.renamed[value] = name
        return name

    def convert(self, layer: Layer, node: Node, args: list[str], training: bool) -> list[str]:
        """The output names of one call of ``layer``, converted by its class' converter. A
        subclass of a fastnn layer that keeps its call() converts as that layer; one with its
        own call() (or a layer of another class) has no ONNX form."""
        for cls in type(layer).__mro__:
            convert = _CONVERTERS.get(cls)
            if convert is not None:
                if getattr(type(layer), "call", None) is not getattr(cls, "call", None):
                    break
                return convert(self, layer, node, args, training)
        kind = ("a subclassed model, whose call() is Python code" if isinstance(layer, Model)
                else "a custom layer (or one whose call() is overridden)")
        raise NotImplementedError(
            f"layer '{layer.name}' ({type(layer).__name__}) cannot be exported to ONNX: it is "
            f"{kind}; export_onnx knows {', '.join(sorted(c.__name__ for c in _CONVERTERS))}")

    def model(self, name: str, opset: int, version: str) -> Any:
        """The ModelProto, its outputs' shapes found by ONNX's shape inference (the batch axis
        flows through as ``batch``)."""
        helper = self.onnx.helper
        float32 = self.onnx.TensorProto.FLOAT
        ins = []
        for t, in_name in zip(self.inputs, self.input_names):
            shape = ["batch"] + list(t.shape[1:])  # None: an axis of any size
            ins.append(helper.make_tensor_value_info(in_name, float32, shape))
        # Shape inference fills in the outputs' types, but for an input that is also an output.
        outs = [ins[self.input_names.index(n)] if n in self.input_names
                else helper.make_tensor_value_info(n, float32, None) for n in self.output_names]
        graph = helper.make_graph(self.nodes, name, ins, outs, self.initializers)
        opsets = [helper.make_opsetid("", opset)]
        proto = helper.make_model(graph, opset_imports=opsets, producer_name="fastnn",
                                  producer_version=version)
        # The oldest IR version that carries this opset: older runtimes refuse newer IR versions
        # even when they know every operator.
        proto.ir_version = helper.find_min_ir_version_for(opsets)
        return self.onnx.shape_inference.infer_shapes(proto, strict_mode=True)


# ---- one converter per layer class ------------------------------------------------------------
def _dense(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
           training: bool) -> list[str]:
    assert isinstance(layer, Dense)
    y = g.node("MatMul", [args[0], g.weight(layer, layer.kernel, "kernel")], layer.name)
    if layer.use_bias:
        y = g.node("Add", [y, g.weight(layer, layer.bias, "bias")], layer.name)
    return [g.activation(layer, layer.activation, y)]


def _activation(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
                training: bool) -> list[str]:
    assert isinstance(layer, Activation)
    return [g.activation(layer, layer.activation, args[0])]


def _dropout(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
             training: bool) -> list[str]:
    assert isinstance(layer, Dropout)
    if training and layer.rate > 0.0:
        raise NotImplementedError(
            f"layer '{layer.name}' (Dropout) is called with training=True, so predict drops "
            f"units at random (Monte Carlo dropout); export_onnx exports deterministic inference "
            f"only")
    return [args[0]]


def _chain(op: str) -> Converter:
    """Add or Multiply: op applied left to right, as the layers' call does."""
    def convert(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
                training: bool) -> list[str]:
        out = args[0]
        for x in args[1:]:
            out = g.node(op, [out, x], layer.name)
        return [out]
    return convert


def _subtract(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
              training: bool) -> list[str]:
    return [g.node("Sub", [args[0], args[1]], layer.name)]


def _average(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
             training: bool) -> list[str]:
    # The sum times the float32 reciprocal of the count, as Average.call (ONNX's Mean divides,
    # which can round differently in the last bit).
    (total,) = _chain("Add")(g, layer, node, args, training)
    scale = g.constant(np.array(1.0 / len(args), np.float32), f"{layer.name}/scale")
    return [g.node("Mul", [total, scale], layer.name)]


def _concatenate(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
                 training: bool) -> list[str]:
    assert isinstance(layer, Concatenate)
    return [g.node("Concat", args, layer.name, axis=layer.axis)]


def _flatten(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
             training: bool) -> list[str]:
    return [g.node("Flatten", args, layer.name, axis=1)]


def _reshape(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
             training: bool) -> list[str]:
    assert isinstance(layer, Reshape)
    # A 0 copies the input's size on that axis (allowzero is 0 by default): the batch axis stays.
    shape = g.constant(np.array((0,) + layer.target_shape, np.int64), f"{layer.name}/shape")
    return [g.node("Reshape", [args[0], shape], layer.name)]


def _nested(g: _GraphBuilder, layer: Layer, node: Node, args: list[str],
            training: bool) -> list[str]:
    """A model called like a layer: its graph, inline, its inputs standing for the call's."""
    assert isinstance(layer, Functional)
    values = {id(t): v for t, v in zip(layer.inputs, args)}
    return g.inline(layer, values, training)


_CONVERTERS: dict[type[Layer], Converter] = {
    Dense: _dense, Activation: _activation, Dropout: _dropout, Add: _chain("Add"),
    Subtract: _subtract, Multiply: _chain("Mul"), Average: _average, Concatenate: _concatenate,
    Flatten: _flatten, Reshape: _reshape, Functional: _nested}


EXPORTERS["onnx"] = export_onnx
