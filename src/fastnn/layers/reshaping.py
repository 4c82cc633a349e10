"""Layers that change a tensor's shape, not its values: Flatten and Reshape."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from .. import ops
from .base import Layer
from .node import Node

if TYPE_CHECKING:
    from ..trainers.program import ProgramBuilder

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """Flattens each sample: (batch, d1, d2, ...) becomes (batch, d1 * d2 * ...).

    Args:
        **kwargs: the base Layer's arguments (name, input_shape, ...).
    """

    def compute_output_shape(self, input_shape: Any) -> Any:
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        # The program keeps each sample's values in one row: flattening changes nothing there.
        return [builder.value(node.inputs[0])]


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (the batch axis stays); one entry may be -1.

    Args:
        target_shape: the per-sample shape, a tuple of ints.
        **kwargs: the base Layer's arguments (name, input_shape, ...).

    Raises:
        ValueError: a target shape with more than one -1 or other non-positive sizes; (when
            called) one whose size differs from the input's.
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in dims) > 1 or any(d == 0 or d < -1 for d in dims):
            raise ValueError(f"target_shape must hold positive sizes and at most one -1. "
                             f"Received: target_shape={target_shape!r}")
        self.target_shape: Tuple[int, ...] = dims

    def _resolved(self, input_shape: Any) -> Tuple[Optional[int], ...]:
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"layer '{self.name}' (Reshape) cannot reshape inputs of shape "
                                 f"{input_shape} to {self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"layer '{self.name}' (Reshape): inputs of shape {input_shape} have "
                             f"{size} values per sample, target_shape {self.target_shape} has "
                             f"{known}")
        return self.target_shape

    def build(self, input_shape: Any) -> None:
        self._resolved(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0],) + self._resolved(input_shape)

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        return [builder.value(node.inputs[0])]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}

