"""Dtype policies, as Keras 3's: what a layer computes in and what its weights are stored in.

fastnn has two:

- ``"float32"`` (the default): everything in float32.
- ``"mixed_bfloat16"``: weights, their gradients and the optimizer's state stay float32; the
  operands of every GEMM (a Dense layer's inputs and kernel, and in the backward pass its output
  gradient, inputs and kernel) are rounded to bfloat16, round to nearest even, and the products
  accumulate in float32. Bias, activations, softmax, the losses and the optimizer run in float32,
  and activations are stored in float32 (fastnn keeps none in bfloat16). On a CPU with
  AVX512-BF16 (AMD Zen 4, Intel Cooper Lake and later) the GEMMs run on its VDPBF16PS
  instruction, at twice the multiply-adds per instruction of float32; elsewhere a portable kernel
  computes the same bits in plain float32 code, more slowly than float32.

Set it for the layers made from then on with ``config.set_dtype_policy("mixed_bfloat16")`` (or
``mixed_precision.set_global_policy``), or per layer with ``dtype="mixed_bfloat16"``.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Dict, Union

from . import _C

__all__ = ["DTypePolicy", "get", "set_dtype_policy", "dtype_policy"]

_POLICIES = {"float32": ("float32", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
# Keras' other policies, which fastnn refuses by name rather than as unknown.
_KERAS_ONLY = ("float16", "bfloat16", "float64", "mixed_float16")


class DTypePolicy:
    """A dtype policy (Keras' ``keras.DTypePolicy``): ``"float32"`` or ``"mixed_bfloat16"``.

    Args:
        name: the policy's name. Defaults to None: the global policy's.

    Attributes:
        name: the policy's name.
        compute_dtype: ``"float32"``, or ``"bfloat16"`` under mixed_bfloat16 (the GEMMs'
            operands; everything else computes in float32).
        variable_dtype: ``"float32"``: weights are always float32.

    Raises:
        ValueError: another name (Keras' float16 policies need float16 kernels fastnn lacks).
    """

    def __init__(self, name: Any = None) -> None:
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str) or name not in _POLICIES:
            why = (" (fastnn computes in float32, with bfloat16 GEMM operands under "
                   "'mixed_bfloat16')" if name in _KERAS_ONLY else "")
            raise ValueError(f"Unknown dtype policy {name!r}{why}; fastnn has 'float32' and "
                             f"'mixed_bfloat16'")
        self.name: str = name
        self.compute_dtype, self.variable_dtype = _POLICIES[name]

    @property
    def bfloat16_gemms(self) -> bool:
        """Whether GEMMs round their operands to bfloat16 (mixed_bfloat16)."""
        return self.compute_dtype == "bfloat16"

    def get_config(self) -> Dict[str, Any]:
        """``{"name": ...}``, as Keras serializes a policy."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> DTypePolicy:
        """The policy ``get_config`` described."""
        return cls(config["name"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


_lock = threading.Lock()
_global: DTypePolicy = DTypePolicy("float32")
_warned_portable = False


def get(identifier: Union[None, str, DTypePolicy, Dict[str, Any]]) -> DTypePolicy:
    """A policy from a name, a policy, a Keras config dict, or None (the global policy).

    Raises:
        ValueError: an unknown policy.
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):  # Keras' {"class_name": "DTypePolicy", "config": {...}}
        config = identifier.get("config", identifier)
        return DTypePolicy(config.get("name") if isinstance(config, dict) else None)
    return DTypePolicy(identifier)


def set_dtype_policy(policy: Union[str, DTypePolicy]) -> None:
    """Sets the policy of the layers created from now on (``keras.config.set_dtype_policy``).

    Under ``"mixed_bfloat16"`` on a CPU without AVX512-BF16 this warns once: the portable kernel
    gives the same results, more slowly than float32.

    Args:
        policy: ``"float32"``, ``"mixed_bfloat16"`` or a DTypePolicy.

    Raises:
        ValueError: another policy.
    """
    global _global, _warned_portable
    new = get(policy)
    with _lock:
        _global = new
        warn = new.bfloat16_gemms and not _warned_portable and \
            _C.bf16_gemm_kernel() == "sbgemm_ref_6x16"
        _warned_portable = _warned_portable or warn
    if warn:
        warnings.warn("mixed_bfloat16: this CPU (or FASTNN_ARCH) has no AVX512-BF16, so the "
                      "bfloat16 GEMMs run on the portable kernel: the same results, slower than "
                      "float32", RuntimeWarning, stacklevel=2)


def dtype_policy() -> DTypePolicy:
    """The global policy (``keras.config.dtype_policy``): ``"float32"`` unless set."""
    return _global
