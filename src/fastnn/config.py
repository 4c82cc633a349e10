"""Keras' ``keras.config`` names that fastnn has: the global dtype policy. (Threads and the
kernel path: ``fastnn.set_num_threads``, ``fastnn.show_config``.)"""

from __future__ import annotations

from .dtype_policies import dtype_policy, set_dtype_policy

__all__ = ["set_dtype_policy", "dtype_policy"]
