"""Layers with Keras' names and arguments. Call one on a ``layers.Input`` to build a graph (the
functional API), stack them in ``models.Sequential``, or call one on data.

base (Layer, InputSpec), core (Input, Dense, Activation, Dropout), merging (Add, Subtract,
Multiply, Average, Concatenate), reshaping (Flatten, Reshape); node holds the symbolic tensors.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from .base import InputSpec, Layer
from .core import Activation, Dense, Dropout, Input, InputLayer
from .merging import (Add, Average, Concatenate, Multiply, Subtract, add, average, concatenate,
                      multiply, subtract)
from .node import KerasTensor
from .reshaping import Flatten, Reshape

__all__ = ["Layer", "InputSpec", "KerasTensor", "Input", "InputLayer", "Dense", "Activation",
           "Dropout", "Add", "Subtract", "Multiply", "Average", "Concatenate", "Flatten",
           "Reshape", "add", "subtract", "multiply", "average", "concatenate", "serialize",
           "deserialize"]

_CLASSES: Dict[str, Type[Layer]] = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Dropout, Add, Subtract, Multiply, Average, Concatenate,
    Flatten, Reshape)}


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``, as a model file stores a layer.

    Args:
        layer: the layer.

    Returns:
        The dict.
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: Dict[str, Any], custom_objects: Optional[Dict[str, Any]] = None) -> Layer:
    """A new layer from ``serialize``'s dict.

    Args:
        config: ``{"class_name": ..., "config": {...}}``.
        custom_objects: your own layer classes by name, for layers that are not fastnn's.
            Defaults to None.

    Returns:
        The layer, with fresh weights.

    Raises:
        ValueError: an unknown class name (the message names it and says how to pass it).
    """
    name = str(config.get("class_name"))
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer: {name!r}. Pass your own classes with "
                         f"custom_objects={{{name!r}: {name}}}")
    layer: Layer = cls.from_config(dict(config.get("config", {})))
    return layer
