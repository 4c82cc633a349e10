"""Keras' ``keras.mixed_precision`` names: ``set_global_policy("mixed_bfloat16")`` is
``config.set_dtype_policy``; ``Policy`` is ``DTypePolicy`` (see ``fastnn.dtype_policies``)."""

from __future__ import annotations

from .dtype_policies import DTypePolicy, dtype_policy, set_dtype_policy

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy",
           "dtype_policy"]

Policy = DTypePolicy
set_global_policy = set_dtype_policy
global_policy = dtype_policy
