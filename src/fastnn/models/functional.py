"""Functional models: a graph of layer calls from symbolic inputs to outputs, as Keras'
``Model(inputs, outputs)``. Several inputs and outputs (lists or dicts), shared layers (a layer
called twice shares its weights; its gradients add up) and nested models (a model called like a
layer) are all graphs of nodes; running one calls each node's layer in order."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple


from ..layers import InputLayer, deserialize as deserialize_layer, serialize as serialize_layer
from ..layers.base import Layer, structure_changed
from ..layers.node import KerasTensor, Node, flatten, nodes_between
from ..trainers.data_adapter import InputArray
from ..trainers.program import ProgramBuilder
from .model import Model
from .saving import MODEL_CLASSES

__all__ = ["Functional"]


def _structure_names(structure: Any, tensors: List[KerasTensor], what: str) -> List[str]:
    """The names of the graph's inputs or outputs: a dict's keys, else the layers' names."""
    if isinstance(structure, dict):
        return [str(k) for k in structure]
    names: List[str] = []
    for t in tensors:
        assert t._node is not None
        base = t._node.layer.name
        name, k = base, 1
        while name in names:  # the same layer gives two outputs: number them
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


class Functional(Model):
    """A model defined by a graph of layers (made by ``models.Model(inputs, outputs)``).

    Args:
        inputs: the input tensor(s) from ``layers.Input``: one, a list, or a dict by name.
        outputs: the output tensor(s) computed from them: one, a list, or a dict by name.
        name: the model's name. Defaults to None ('functional', 'functional_1', ...).
        trainable: whether training updates the weights. Defaults to True.

    Raises:
        TypeError: inputs or outputs that are not symbolic tensors.
        ValueError: an input that is not from ``layers.Input``, outputs that need tensors not
            among the inputs, or two layers with one name.
    """

    def __init__(self, inputs: Any, outputs: Any, name: Optional[str] = None,
                 trainable: bool = True) -> None:
        Model.__init__(self, name=name, trainable=trainable)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        ins, outs = flatten(inputs), flatten(outputs)
        for what, items in (("inputs", ins), ("outputs", outs)):
            bad = [t for t in items if not isinstance(t, KerasTensor)]
            if bad or not items:
                raise TypeError(f"Model {what} must be symbolic tensors (from layers.Input and "
                                f"layer calls); received {bad[0] if bad else items!r}")
        for t in ins:
            if t._node is None or t._node.inputs:
                raise ValueError(f"Model inputs must come from layers.Input; {t!r} is computed "
                                 f"by layer '{t._node.layer.name if t._node else '?'}'")
        nodes = nodes_between(ins, outs)
        input_nodes = {id(t._node) for t in ins}
        for node in nodes:
            if not node.inputs and id(node) not in input_nodes:
                raise ValueError(f"Graph disconnected: the outputs depend on the input "
                                 f"'{node.layer.name}', which is not among the model's inputs")
        # Keras' order: the nodes come by decreasing depth, so a layer's first node is its
        # deepest call.
        layers: List[Layer] = []
        for node in nodes:
            if not any(node.layer is layer for layer in layers):
                layers.append(node.layer)
        names = [layer.name for layer in layers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"All layer names should be unique: {twice} name(s) more than one "
                             f"layer of the model")
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs: List[KerasTensor] = ins
        self.outputs: List[KerasTensor] = outs
        self._nodes = nodes
        self._graph_layers = layers
        self._in_names = _structure_names(inputs, ins, "inputs")
        self._out_names = _structure_names(outputs, outs, "outputs")
        self.built = True
        structure_changed()

    # ---- structure -------------------------------------------------------------------------------
    @property
    def layers(self) -> List[Layer]:
        """The graph's layers in order, each once (its InputLayers first, as in Keras)."""
        return list(self._graph_layers)

    def _sublayers(self) -> List[Layer]:
        return self.layers + [layer for layer in self._layers if layer not in self._graph_layers]

    @property
    def input(self) -> Any:
        """The input tensor(s) as given: one, a list or a dict."""
        return self._inputs_struct

    @property
    def output(self) -> Any:
        """The output tensor(s) as given: one, a list or a dict."""
        return self._outputs_struct

    @property
    def input_shape(self) -> Any:
        """The input's shape, batch axis first (a list of shapes for several inputs)."""
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """The output's shape, batch axis first (a list of shapes for several outputs)."""
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> List[str]:
        """The inputs' names: the keys of a dict of inputs, else the Input layers' names."""
        return list(self._in_names)

    @property
    def output_names(self) -> List[str]:
        """The outputs' names (per-output logs and losses use them): the keys of a dict of
        outputs, else the names of the layers that compute them."""
        return list(self._out_names)

    # ---- what the trainer needs ------------------------------------------------------------------
    def _input_names(self) -> List[str]:
        return self.input_names

    def _input_shapes(self) -> Optional[List[Tuple[Optional[int], ...]]]:
        return [t.shape for t in self.inputs]

    def _output_names(self) -> List[str]:
        return self.output_names

    def _output_shapes(self) -> List[Tuple[Optional[int], ...]]:
        return [t.shape for t in self.outputs]

    def _build_for(self, xs: List[InputArray]) -> None:
        pass  # a graph is built when it is made

    def _graph(self) -> Tuple[List[KerasTensor], List[KerasTensor], List[Node]]:
        return self.inputs, self.outputs, self._nodes

    def _pack_inputs(self, xs: List[Any]) -> Any:
        if isinstance(self._inputs_struct, dict):
            return dict(zip(self._in_names, xs))
        return xs[0] if not isinstance(self._inputs_struct, (list, tuple)) else list(xs)

    def _unpack_outputs(self, out: Any) -> List[Any]:
        if isinstance(out, dict):
            return [out[k] for k in self._out_names]
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _pack_outputs(self, outs: List[Any]) -> Any:
        if isinstance(self._outputs_struct, dict):
            return dict(zip(self._out_names, outs))
        return outs[0] if not isinstance(self._outputs_struct, (list, tuple)) else list(outs)

    # ---- running ---------------------------------------------------------------------------------
    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        """Runs the graph: each node's layer on the values of its inputs, in order.

        Args:
            inputs: one array or Tensor per model input: one, a list, or a dict by name.
            training: passed to every layer (Dropout acts only when True). Defaults to None.

        Returns:
            The outputs, structured like the model's outputs.

        Raises:
            ValueError: the wrong number of inputs, or a dict with other names.
        """
        if isinstance(inputs, dict):
            missing = [n for n in self._in_names if n not in inputs]
            if missing:
                raise ValueError(f"model '{self.name}' takes inputs {self._in_names}; the dict "
                                 f"lacks {missing}")
            flat = [inputs[n] for n in self._in_names]
        else:
            flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(f"model '{self.name}' takes {len(self.inputs)} input(s); received "
                             f"{len(flat)}")
        values: Dict[int, Any] = {id(t): x for t, x in zip(self.inputs, flat)}
        for node in self._nodes:
            if not node.inputs:
                continue
            args = [values[id(t)] for t in node.inputs]
            kwargs = dict(node.kwargs)
            kwargs.setdefault("training", training)
            out = node.layer(args if node.as_list else args[0], **kwargs)
            outs = out if isinstance(out, (list, tuple)) else [out]
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
        return self._pack_outputs([values[id(t)] for t in self.outputs])

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        known: Dict[int, Any] = {id(t): tuple(s) for t, s in zip(self.inputs, shapes)}
        for node in self._nodes:
            if not node.inputs:
                continue
            ins = [known[id(t)] for t in node.inputs]
            out = node.layer.compute_output_shape(ins if node.as_list else ins[0])
            outs = [out] if isinstance(out, tuple) else list(out)
            for t, s in zip(node.outputs, outs):
                known[id(t)] = s
        result = [known[id(t)] for t in self.outputs]
        return result[0] if len(result) == 1 else result

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        """A nested model compiles inline: its graph, its inputs standing for the call's."""
        env = {id(inner): builder.value(outer) for inner, outer in zip(self.inputs, node.inputs)}
        with builder.scope(env):
            for inner in self._nodes:
                if inner.inputs:
                    builder.compile_node(inner)
            return [builder.value(t) for t in self.outputs]

    # ---- configuration ---------------------------------------------------------------------------
    def _node_index(self, node: Node) -> int:
        """Which call of its layer, among this graph's, the node is (Keras' node index)."""
        return [n for n in self._nodes if n.layer is node.layer].index(node)

    def _tensor_ref(self, t: KerasTensor) -> List[Any]:
        assert t._node is not None
        return [t._node.layer.name, self._node_index(t._node), t._index]

    def get_config(self) -> Dict[str, Any]:
        """The graph: each layer's config and the calls that feed it, and the input and output
        tensors, by ``[layer name, node index, tensor index]``.

        Returns:
            A JSON-friendly dict.
        """
        layers: List[Dict[str, Any]] = []
        for layer in self.layers:
            entry: Dict[str, Any] = serialize_layer(layer)  # a nested model too
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": [self._tensor_ref(t) for t in n.inputs], "as_list": n.as_list,
                 "kwargs": {k: v for k, v in n.kwargs.items()
                            if isinstance(v, (bool, int, float, str))}}
                for n in self._nodes if n.layer is layer and n.inputs]
            layers.append(entry)

        def refs(structure: Any) -> Any:
            if isinstance(structure, dict):
                return {k: self._tensor_ref(v) for k, v in structure.items()}
            if isinstance(structure, (list, tuple)):
                return [self._tensor_ref(t) for t in structure]
            return self._tensor_ref(structure)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": refs(self._inputs_struct),
                "output_layers": refs(self._outputs_struct)}

    @classmethod
    def from_config(cls, config: Dict[str, Any],
                    custom_objects: Optional[Dict[str, Any]] = None) -> Functional:
        """Rebuilds the graph that ``get_config`` described, with fresh weights.

        Args:
            config: the dict.
            custom_objects: your own layer classes by name. Defaults to None.

        Returns:
            The model.

        Raises:
            ValueError: a description whose calls cannot be replayed (a missing layer or call).
        """
        layers: Dict[str, Layer] = {}
        outputs: Dict[str, List[List[KerasTensor]]] = {}
        pending: List[Tuple[str, Dict[str, Any]]] = []
        for entry in config["layers"]:
            layer = deserialize_any(entry, custom_objects)
            layers[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                outputs[entry["name"]] = [[layer.output]]
            else:
                outputs[entry["name"]] = []
                pending += [(entry["name"], call) for call in entry.get("inbound_nodes", [])]

        def tensor(ref: Sequence[Any]) -> Optional[KerasTensor]:
            calls = outputs.get(ref[0], [])
            return calls[ref[1]][ref[2]] if ref[1] < len(calls) else None

        while pending:
            progress = False
            for item in list(pending):
                name, call = item
                args = [tensor(r) for r in call["args"]]
                if any(a is None for a in args):
                    continue
                if any(p[0] == name for p in pending[:pending.index(item)]):
                    continue  # a layer's calls replay in their order
                out = layers[name](args if call.get("as_list") else args[0],
                                   **call.get("kwargs", {}))
                outputs[name].append(list(out) if isinstance(out, (list, tuple)) else [out])
                pending.remove(item)
                progress = True
            if not progress:
                raise ValueError(f"the model description cannot be rebuilt: the calls of "
                                 f"{sorted({p[0] for p in pending})} need tensors no layer makes")

        def resolve(structure: Any) -> Any:
            if isinstance(structure, dict):
                return {k: resolve(v) for k, v in structure.items()}
            if structure and isinstance(structure[0], list):
                return [resolve(r) for r in structure]
            t = tensor(structure)
            if t is None:
                raise ValueError(f"the model description names a tensor {structure} that no "
                                 f"layer makes")
            return t
        return cls(resolve(config["input_layers"]), resolve(config["output_layers"]),
                   name=config.get("name"), trainable=config.get("trainable", True))


def deserialize_any(entry: Dict[str, Any],
                    custom_objects: Optional[Dict[str, Any]] = None) -> Layer:
    """A layer or a nested model from its ``{"class_name", "config"}`` entry."""
    cls = MODEL_CLASSES.get(entry.get("class_name", ""))
    if cls is not None:
        return cls.from_config(entry["config"], custom_objects)  # type: ignore[no-any-return]
    return deserialize_layer(entry, custom_objects)


Model._functional_class = Functional
MODEL_CLASSES["Functional"] = Functional
