"""The training machinery every model shares: trainer (compile, fit, evaluate, predict, one
loop), data_adapter (arrays, lists, dicts to aligned arrays), callback_list, compile_utils (per
output losses, metrics and logs) and program (a graph compiled to one C++ call per step)."""

from __future__ import annotations

from .trainer import Trainer

__all__ = ["Trainer"]
