"""Layers that merge several tensors into one, with Keras' names: Add, Subtract, Multiply,
Average and Concatenate (and their function forms add, subtract, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np

from .. import ops
from .base import Layer, NotCompilable
from .node import Node

if TYPE_CHECKING:
    from ..trainers.program import ProgramBuilder

__all__ = ["Add", "Subtract", "Multiply", "Average", "Concatenate", "add", "subtract", "multiply",
           "average", "concatenate"]


class _Merge(Layer):
    """An element-wise merge of a list of tensors whose shapes broadcast together."""

    _kind = ""

    def _check_list(self, shapes: Any) -> List[Any]:
        if not isinstance(shapes, list) or not shapes:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) must be called on a "
                             f"list of tensors; received {shapes!r}")
        return shapes

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = self._check_list(input_shape)
        out = list(shapes[0])
        for s in shapes[1:]:
            if len(s) != len(out):
                raise ValueError(f"layer '{self.name}' ({type(self).__name__}) needs inputs of one "
                                 f"rank; received shapes {shapes}")
            for i, (a, b) in enumerate(zip(out, s)):
                if a is None or b is None:
                    out[i] = a if b in (None, 1) else (b if a in (None, 1) else None)
                elif a != b and 1 not in (a, b):
                    raise ValueError(f"layer '{self.name}' ({type(self).__name__}): inputs of "
                                     f"shapes {shapes} do not broadcast together")
                else:
                    out[i] = max(a, b)
        return tuple(out)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # checks the shapes now

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        shapes = [t.shape[1:] for t in node.inputs]
        if any(s != shapes[0] for s in shapes):
            raise NotCompilable(f"layer '{self.name}' ({type(self).__name__}) broadcasts inputs "
                                f"of shapes {[t.shape for t in node.inputs]}: the C++ program "
                                f"merges equal shapes only")
        return [builder.merge(self._kind, [builder.value(t) for t in node.inputs])]


class Add(_Merge):
    """The sum of its inputs (a list of tensors of one shape, or shapes that broadcast).

    Args:
        **kwargs: the base Layer's arguments (name, ...).
    """

    _kind = "add"

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs).

    Args:
        **kwargs: the base Layer's arguments (name, ...).

    Raises:
        ValueError: (when called) a list of other than two tensors.
    """

    _kind = "subtract"

    def compute_output_shape(self, input_shape: Any) -> Any:
        if len(self._check_list(input_shape)) != 2:
            raise ValueError(f"layer '{self.name}' (Subtract) takes exactly 2 inputs; received "
                             f"{len(input_shape)}")
        return super().compute_output_shape(input_shape)

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return ops.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """The element-wise product of its inputs.

    Args:
        **kwargs: the base Layer's arguments (name, ...).
    """

    _kind = "multiply"

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.multiply(out, x)
        return out


class Average(_Merge):
    """The element-wise mean of its inputs.

    Args:
        **kwargs: the base Layer's arguments (name, ...).
    """

    _kind = "average"

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return ops.multiply(out, np.float32(1.0 / len(inputs)))


class Concatenate(Layer):
    """Its inputs joined along ``axis``; their shapes agree on every other axis.

    Args:
        axis: the axis to join along. Defaults to -1, the last.
        **kwargs: the base Layer's arguments (name, ...).
    """

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if not isinstance(input_shape, list) or not input_shape:
            raise ValueError(f"layer '{self.name}' (Concatenate) must be called on a list of "
                             f"tensors; received {input_shape!r}")
        rank = len(input_shape[0])
        if any(len(s) != rank for s in input_shape) or not -rank <= self.axis < rank:
            raise ValueError(f"layer '{self.name}' (Concatenate) along axis {self.axis} needs "
                             f"inputs of one rank with that axis; received {input_shape}")
        axis = self.axis % rank
        out = list(input_shape[0])
        for s in input_shape[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ValueError(f"layer '{self.name}' (Concatenate) along axis {self.axis} "
                                     f"needs inputs that agree on every other axis; received "
                                     f"shapes {input_shape}")
                elif a is None:
                    out[i] = b
        return tuple(out)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return ops.concatenate(list(inputs), axis=self.axis)

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        if any(len(t.shape) != 2 for t in node.inputs) or self.axis not in (-1, 1):
            raise NotCompilable(f"layer '{self.name}' (Concatenate) joins inputs of shapes "
                                f"{[t.shape for t in node.inputs]} along axis {self.axis}: the C++ "
                                f"program joins (batch, features) along the last axis only")
        return [builder.concatenate([builder.value(t) for t in node.inputs])]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def add(inputs: List[Any], **kwargs: Any) -> Any:
    """``Add(**kwargs)(inputs)``: the functional form.

    Args:
        inputs: a list of tensors.
        **kwargs: the layer's arguments (name, ...).

    Returns:
        The sum (a symbolic tensor for symbolic inputs).
    """
    return Add(**kwargs)(inputs)


def subtract(inputs: List[Any], **kwargs: Any) -> Any:
    """``Subtract(**kwargs)(inputs)``: the functional form.

    Args:
        inputs: a list of two tensors.
        **kwargs: the layer's arguments (name, ...).

    Returns:
        The difference.
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs: List[Any], **kwargs: Any) -> Any:
    """``Multiply(**kwargs)(inputs)``: the functional form.

    Args:
        inputs: a list of tensors.
        **kwargs: the layer's arguments (name, ...).

    Returns:
        The product.
    """
    return Multiply(**kwargs)(inputs)


def average(inputs: List[Any], **kwargs: Any) -> Any:
    """``Average(**kwargs)(inputs)``: the functional form.

    Args:
        inputs: a list of tensors.
        **kwargs: the layer's arguments (name, ...).

    Returns:
        The mean.
    """
    return Average(**kwargs)(inputs)


def concatenate(inputs: List[Any], axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis, **kwargs)(inputs)``: the functional form.

    Args:
        inputs: a list of tensors.
        axis: the axis to join along. Defaults to -1.
        **kwargs: the layer's arguments (name, ...).

    Returns:
        The joined tensor.
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
