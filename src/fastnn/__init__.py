"""fastnn: a small, fast neural-network engine — float32 C++ kernels behind a Keras-shaped API."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# ops first: it imports autograd (built on the ops) at its end.
from . import ops  # isort: skip
from . import autograd
from ._config import (MAX_THREADS, get_num_threads, set_num_threads, share_blas_threads,
                      show_config)
from .autograd import GradientTape, Tensor, Variable
from ._threadpoolctl import install as _install_threadpoolctl

_install_threadpoolctl(__version__)

# The Keras-style modules load on first use (``fastnn.losses``, ``fastnn.models``, ...), so
# ``import fastnn`` stays quick while ``fastnn.<module>`` works without its own import line.
_SUBMODULES = ["activations", "callbacks", "config", "datasets", "dtype_policies", "initializers",
               "layers", "losses", "metrics", "mixed_precision", "models", "optimizers",
               "regularizers", "testing", "utils", "wrappers"]

__all__ = ["ops", "autograd", *_SUBMODULES, "show_config", "set_num_threads", "get_num_threads",
           "share_blas_threads", "MAX_THREADS",
           "GradientTape", "Tensor", "Variable", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
