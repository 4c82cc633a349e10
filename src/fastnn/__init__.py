"""fastnn: a small, fast neural-network engine — float32 C++ kernels behind a Keras-shaped API."""

from __future__ import annotations

__version__ = "0.1.0"

from . import ops
from ._config import get_num_threads, set_num_threads, show_config

__all__ = ["ops", "show_config", "set_num_threads", "get_num_threads", "__version__"]
