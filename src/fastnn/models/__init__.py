"""Models, as Keras': ``Model`` (the functional API, or subclass it), ``Sequential``, and
``load_model``, ``save_model``, ``clone_model``.

model (Model: a Layer with the trainer), functional (graphs of layers), sequential (a stack that
builds its graph), summary, saving, cloning.
"""

from __future__ import annotations

from .cloning import clone_model
from .functional import Functional
from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model", "clone_model"]
