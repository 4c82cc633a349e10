"""``models.Sequential``: a stack of layers, as Keras'. It is a functional model whose graph it
builds itself, one layer after the other, as soon as the input shape is known: from an ``Input``
first, from the first layer's ``input_shape`` (or ``input_dim``), or from the data at the first
``fit`` or ``predict``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple


from ..layers import InputLayer, serialize as serialize_layer
from ..layers.base import Layer, structure_changed
from ..layers.node import KerasTensor
from ..trainers.data_adapter import InputArray
from .functional import Functional, deserialize_any
from .model import Model
from .saving import MODEL_CLASSES

__all__ = ["Sequential"]


class Sequential(Functional):
    """A linear stack of layers.

    Args:
        layers: the layers, in order (see ``add``). Defaults to None.
        name: the model's name. Defaults to None ('sequential', 'sequential_1', ...).
        trainable: whether training updates the weights. Defaults to True.

    Raises:
        TypeError: an item that is not a fastnn layer.
        ValueError: an Input anywhere but first.
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, name: Optional[str] = None,
                 trainable: bool = True) -> None:
        Model.__init__(self, name=name, trainable=trainable)
        self._stack: List[Layer] = []
        self._input_layer: Optional[InputLayer] = None
        self._implicit_input = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Appends a layer; the graph grows as soon as the input shape is known.

        Args:
            layer: a fastnn layer (or a model), or ``layers.Input(...)`` first.

        Raises:
            TypeError: an object that is not a fastnn layer.
            ValueError: an Input added to a model that already has layers.
        """
        if isinstance(layer, KerasTensor) and layer._node is not None:
            layer = layer._node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a fastnn layer; received "
                            f"{type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("An Input layer can only be the first layer of a Sequential model")
            self._input_layer = layer
            return
        self._stack.append(layer)
        if self.built:
            # The graph grows by one call: no need to replay the others.
            self._init_graph(self.inputs[0], layer(self.outputs[0]))
        else:
            self._rebuild()

    def pop(self) -> Layer:
        """Removes and returns the last layer.

        Raises:
            TypeError: a model with no layers.
        """
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    @property
    def layers(self) -> List[Layer]:
        """The layers as added, without the Input (``model.layers[0]`` is the first Dense, as in
        Keras)."""
        return list(self._stack)

    def _sublayers(self) -> List[Layer]:
        return list(self._stack)

    def _input_batch_shape(self) -> Optional[Tuple[Optional[int], ...]]:
        if self._input_layer is not None and not self._implicit_input:
            return self._input_layer.batch_shape
        if self._stack and self._stack[0]._input_shape_arg is not None:
            return (None,) + tuple(self._stack[0]._input_shape_arg)
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        return None

    def _rebuild(self, batch_shape: Optional[Tuple[Optional[int], ...]] = None) -> None:
        shape = batch_shape or self._input_batch_shape()
        if shape is None or not self._stack:
            self.built = False
            structure_changed()
            return
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(shape):
            self._input_layer = InputLayer(batch_shape=shape)
            self._implicit_input = True
        x = self._input_layer.output
        for layer in self._stack:
            x = layer(x)
        self._init_graph(self._input_layer.output, x)

    def build(self, input_shape: Any = None) -> None:
        """Builds the graph for inputs of ``input_shape`` (batch axis first, e.g.
        ``(None, 784)``).

        Args:
            input_shape: the shape. Defaults to None: the shape the layers declare.

        Raises:
            ValueError: no shape given or declared, or an empty model.
        """
        if not self._stack:
            raise ValueError("Cannot build an empty Sequential model: add layers first")
        if input_shape is None and self._input_batch_shape() is None:
            raise ValueError("build: give the input shape, e.g. model.build((None, 784))")
        shape = None if input_shape is None else tuple(input_shape)
        if shape is not None and any(d is None for d in shape[1:]):
            raise ValueError(f"build: every axis but the batch axis needs a size; received "
                             f"input_shape={shape}")
        self._rebuild(shape)

    def _build_for(self, xs: List[InputArray]) -> None:
        self.build((None,) + tuple(xs[0].shape[1:]))

    def _maybe_build(self, shapes: Any) -> None:
        # Called on data (or on a symbolic tensor) before its input shape was known.
        if not self.built and isinstance(shapes, tuple) and self._stack:
            self.build((None,) + tuple(shapes[1:]))

    def _input_names(self) -> List[str]:
        return self.input_names if self.built else ["input"]

    def _output_shapes(self) -> List[Tuple[Optional[int], ...]]:
        if not self.built:
            raise ValueError(f"model '{self.name}' is not built yet: give its first layer an "
                             f"input_shape, or call fit or predict first")
        return super()._output_shapes()

    @property
    def input_shape(self) -> Any:
        """The input's shape, batch axis first, once known (else None)."""
        return super().input_shape if self.built else None

    @property
    def output_shape(self) -> Any:
        """The output's shape, batch axis first, once built (else None)."""
        return super().output_shape if self.built else None

    def get_config(self) -> Dict[str, Any]:
        """The layers' configs, the input first when its shape is known (as Keras).

        Returns:
            A JSON-friendly dict.
        """
        layers = []
        shape = self._input_batch_shape() if not self.built else self.inputs[0].shape
        if shape is not None:
            layers.append({"class_name": "InputLayer",
                           "config": {"batch_shape": list(shape), "dtype": "float32",
                                      "name": self._input_layer.name if self._input_layer
                                      else "input_layer"}})
        layers += [serialize_layer(layer) for layer in self._stack]  # nested models too
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: Dict[str, Any],
                    custom_objects: Optional[Dict[str, Any]] = None) -> Sequential:
        """A new Sequential with fresh weights from ``get_config``'s dict.

        Args:
            config: the dict.
            custom_objects: your own layer classes by name. Defaults to None.

        Returns:
            The model.
        """
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize_any(entry, custom_objects))
        return model


MODEL_CLASSES["Sequential"] = Sequential
