"""Models, as Keras': ``Model`` (the functional API, or subclass it), ``Sequential``, and
``load_model``, ``save_model``, ``clone_model``.

model (Model: a Layer with the trainer), functional (graphs of layers), sequential (a stack that
builds its graph), summary, saving (fastnn's files), keras_format (Keras 3's .keras files),
onnx_export (``model.export``), cloning.
"""

from __future__ import annotations

from .cloning import clone_model
from .functional import Functional
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential

# Imported for what they register with saving: model.save and load_model of .keras files, and
# model.export(format="onnx"). Neither imports h5py or onnx until a file is written or read.
from . import keras_format, onnx_export  # noqa: E402,F401  # isort: skip

__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model", "clone_model"]
