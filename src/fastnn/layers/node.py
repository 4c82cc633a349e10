"""Symbolic tensors and the nodes that connect them: what ``layers.Input`` returns and what
calling a layer on it records, so that ``models.Model(inputs, outputs)`` can find the graph.

A ``KerasTensor`` holds no data, only a shape (batch axis first, None where unknown) and the
``Node`` that made it: the call of one layer on its input tensors. A model walks back from its
outputs through the nodes to its inputs.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .base import Layer

__all__ = ["KerasTensor", "Node"]

Shape = Tuple[Optional[int], ...]

_node_ids = itertools.count()


class KerasTensor:
    """A symbolic tensor of the functional API: the shape and dtype of a value in a graph being
    built, and the layer call that produces it. It holds no data: pass it to layers, then to
    ``models.Model(inputs=..., outputs=...)``.

    Args:
        shape: the shape with the batch axis first, e.g. ``(None, 784)``.
        dtype: the dtype, 'float32'. Defaults to 'float32'.
        name: a label for messages. Defaults to None.
    """

    __slots__ = ("shape", "dtype", "name", "_node", "_index")

    def __init__(self, shape: Sequence[Optional[int]], dtype: str = "float32",
                 name: Optional[str] = None) -> None:
        self.shape: Shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self._node: Optional[Node] = None
        self._index = 0  # which output of its node

    @property
    def ndim(self) -> int:
        """The number of axes, the batch axis included."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def _refuse(self, *args: Any) -> Any:
        raise TypeError("A symbolic tensor of the functional API (a KerasTensor) holds no data: "
                        "combine such tensors with layers (layers.Add(), layers.Multiply(), "
                        "layers.Concatenate(), ...), not with operators, numpy or fastnn.ops")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __pow__ = _refuse
    __array__ = __float__ = __bool__ = __len__ = _refuse


class Node:
    """One call of a layer in a graph: the layer, the tensors it was called on and the tensors
    it returned. ``as_list`` says whether the layer took a list of tensors (merging layers) or a
    single one; ``kwargs`` are the call's other arguments (e.g. ``training``).

    Nodes are numbered as they are made: an input always comes from an earlier node, so sorting
    by number orders a graph topologically, in the order its author wrote it.
    """

    __slots__ = ("id", "layer", "inputs", "outputs", "as_list", "kwargs")

    def __init__(self, layer: Layer, inputs: Sequence[KerasTensor], outputs: Sequence[KerasTensor],
                 as_list: bool = False, kwargs: Optional[Dict[str, Any]] = None) -> None:
        self.id = next(_node_ids)
        self.layer = layer
        self.inputs: List[KerasTensor] = list(inputs)
        self.outputs: List[KerasTensor] = list(outputs)
        self.as_list = as_list
        self.kwargs = dict(kwargs or {})
        for i, t in enumerate(self.outputs):
            t._node = self
            t._index = i

    @property
    def parents(self) -> List[Node]:
        """The nodes that made this node's inputs."""
        return [t._node for t in self.inputs if t._node is not None]


def nodes_between(inputs: Sequence[KerasTensor], outputs: Sequence[KerasTensor]) -> List[Node]:
    """Every node on a path from ``inputs`` to ``outputs``, in Keras' order: by decreasing depth
    (a node's depth is its longest distance to an output, so every node comes after the nodes
    that make its inputs), ties in the order the nodes were made.

    Raises:
        ValueError: an output that depends on a tensor which is not among ``inputs`` (the
            graph is disconnected), naming the layer that needs it.
    """
    input_ids = {id(t) for t in inputs}
    depth: Dict[int, int] = {}
    by_id: Dict[int, Node] = {}
    stack: List[Tuple[KerasTensor, int]] = [(t, 0) for t in outputs]
    while stack:
        t, d = stack.pop()
        node = t._node
        if node is None:
            raise ValueError(f"{t!r} was not made by a layer (use layers.Input to start a graph)")
        if depth.get(node.id, -1) >= d:
            continue
        depth[node.id] = d
        by_id[node.id] = node
        if id(t) in input_ids:
            continue
        if not node.inputs:  # an Input of another graph
            raise ValueError(
                f"Graph disconnected: cannot obtain the value of {t!r} (from layer "
                f"'{node.layer.name}'), which is not one of the model's inputs")
        stack.extend((x, d + 1) for x in node.inputs)
    return [by_id[k] for k in sorted(by_id, key=lambda k: (-depth[k], k))]


def flatten(structure: Any) -> List[Any]:
    """The leaves of a tensor, a list/tuple of them, or a dict of them (in key order)."""
    if isinstance(structure, dict):
        return [v for k in structure for v in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [v for item in structure for v in flatten(item)]
    return [structure]


def iter_tensors(structure: Any) -> Iterator[KerasTensor]:
    """The KerasTensors among the leaves of ``structure``."""
    return (t for t in flatten(structure) if isinstance(t, KerasTensor))
