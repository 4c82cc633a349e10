"""Optimizers with Keras' names, defaults and update rules. Each keeps its state in flat float32
slots, one entry per scalar of the variables it was built for, so a compiled model updates every
weight in one fused C++ pass; ``apply_gradients`` updates Variables one by one with the same
kernels, as in Keras' custom training loops."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _C, ops
from .autograd import Variable

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "get"]


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    return value


def _learning_rate(learning_rate: Optional[float], default: float, kwargs: Dict[str, Any],
                   cls: str) -> float:
    """The learning rate, accepting older listings' ``lr=`` (with a DeprecationWarning)."""
    if "lr" in kwargs:
        lr = kwargs.pop("lr")
        warnings.warn(f"{cls}: the argument `lr` is deprecated; use `learning_rate` instead "
                      f"({cls}(learning_rate={lr!r}))", DeprecationWarning, stacklevel=3)
        if learning_rate is None:
            learning_rate = lr
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"{cls}: argument(s) not recognized: {kwargs}")
    return default if learning_rate is None else learning_rate


class Optimizer:
    """Base class: ``build(variables)`` makes the slots, ``apply(grads, variables)`` (or
    ``apply_gradients(zip(grads, variables))``) performs one update in place and counts it in
    ``iterations``, ``get_config()`` returns the settings.

    Args:
        learning_rate: the step size, a float >= 0.

    Raises:
        ValueError: a negative (or NaN) learning rate.
    """

    # The compiled program runs the built-in optimizers' updates itself, from their kind, their
    # slots and their hyper-parameters (as the ops.*_update function of the same name takes them).
    _kind: Any = None
    _slot_names: Tuple[str, ...] = ()
    _size: Optional[int] = None  # scalars in the variables built for (None: not built)

    def __init__(self, learning_rate: float):
        self.learning_rate = _check_rate("learning_rate", learning_rate)
        self.iterations = 0
        self._variables: List[Variable] = []
        self._offsets: Dict[int, int] = {}
        self._hyper = np.zeros(4, np.float64)

    @property
    def built(self) -> bool:
        """Whether ``build`` has made the slots."""
        return self._size is not None

    def build(self, variables: Sequence[Variable]) -> None:
        """Makes zeroed slots for ``variables`` (idempotent for the same list, in order). A
        different list starts afresh: new slots and ``iterations`` back to 0.

        Args:
            variables: the Variables this optimizer will update (a model's trainable weights).

        Raises:
            TypeError: an item that is not a fastnn Variable.
        """
        variables = list(variables)
        if len(variables) == len(self._variables) and all(
                a is b for a, b in zip(variables, self._variables)):
            return
        offset = 0
        offsets: Dict[int, int] = {}
        for v in variables:
            if not isinstance(v, Variable):
                raise TypeError(f"optimizers update fastnn Variables; received {type(v).__name__}")
            offsets[id(v)] = offset
            offset += v.size
        self._variables, self._offsets, self._size = variables, offsets, offset
        self.iterations = 0
        self._build_slots(offset)

    def _build_slots(self, n: int) -> None:
        pass

    def apply(self, grads: Sequence[Optional[Any]],
              trainable_variables: Optional[Sequence[Variable]] = None) -> None:
        """One update: each variable moves by its gradient (None: left alone).

        Builds the slots on the first call; counts the step in ``iterations``.

        Args:
            grads: one gradient per variable (arrays of the variable's shape, or None).
            trainable_variables: the variables, in the order of ``grads``. Defaults to those
                the optimizer was built for.

        Raises:
            ValueError: a variable the optimizer was not built for, or a gradient of the wrong
                shape.
        """
        variables = self._variables if trainable_variables is None else list(trainable_variables)
        if self._size is None:
            self.build(variables)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"apply: {len(grads)} gradients for {len(variables)} variables")
        for v in variables:
            if id(v) not in self._offsets:
                raise ValueError(f"apply: the optimizer was built for other variables (it has "
                                 f"slots for {len(self._variables)}); a new variable "
                                 f"{getattr(v, 'name', None)!r} of shape {v.shape} needs a new "
                                 f"optimizer")
        self.iterations += 1
        for g, v in zip(grads, variables):
            if g is not None:
                off = self._offsets[id(v)]
                slots = [None if s is None else s[off:off + v.size].reshape(v.shape)
                         for s in self._slots()]
                self._update(v._value, g, *slots)

    def apply_gradients(self, grads_and_vars: Iterable[Tuple[Optional[Any], Variable]]) -> None:
        """``apply`` from (gradient, variable) pairs, as ``zip(grads, model.trainable_weights)``.

        Args:
            grads_and_vars: the pairs.
        """
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _slots(self) -> List[Optional[np.ndarray]]:
        return [getattr(self, name, None) for name in self._slot_names]

    def _update(self, param: np.ndarray, grad: Any, *slots: Optional[np.ndarray]) -> None:
        raise NotImplementedError

    def _hyper_values(self) -> np.ndarray:
        """The hyper-parameters as the compiled program reads them (one array, refreshed)."""
        raise NotImplementedError

    def _program_spec(self) -> Tuple[Any, Optional[np.ndarray], Optional[np.ndarray], bool]:
        """(kind, slot 0, slot 1, nesterov) for the compiled program."""
        slots = self._slots() + [None, None]
        return self._kind, slots[0], slots[1], bool(getattr(self, "nesterov", False))

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments, so that ``type(opt)(**opt.get_config())`` is a twin."""
        return {"learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Optimizer:
        """A new optimizer from ``get_config``'s dict.

        Args:
            config: the dict.

        Returns:
            The optimizer, with fresh state.
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras' formulation):
    ``v = momentum * v - lr * g; w += v`` (Nesterov: ``w += momentum * v - lr * g``);
    plain ``w -= lr * g`` when momentum is 0.

    Args:
        learning_rate: the step size ``lr`` (default 0.01).
        momentum: in [0, 1] (default 0.0, plain gradient descent).
        nesterov: use Nesterov momentum (default False).
        **kwargs: ``lr``, the older name of ``learning_rate`` (with a DeprecationWarning), and
            ``name``.

    Raises:
        ValueError: a negative learning rate or a momentum outside [0, 1].
        TypeError: an argument it does not know.
    """

    _kind = _C.OptimizerKind.sgd
    _slot_names = ("velocity",)

    def __init__(self, learning_rate: Optional[float] = None, momentum: float = 0.0,
                 nesterov: bool = False, **kwargs: Any):
        super().__init__(_learning_rate(learning_rate, 0.01, kwargs, "SGD"))
        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum}")
        self.nesterov = bool(nesterov)

    def _build_slots(self, n: int) -> None:
        self.velocity = np.zeros(n, np.float32) if self.momentum else None

    def _hyper_values(self) -> np.ndarray:
        self._hyper[:2] = (self.learning_rate, self.momentum)
        return self._hyper[:2]

    def _update(self, param: np.ndarray, grad: Any, *slots: Optional[np.ndarray]) -> None:
        ops.sgd_update(param, grad, slots[0], learning_rate=self.learning_rate,
                       momentum=self.momentum, nesterov=self.nesterov)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) as Keras: ``v = rho * v + (1 - rho) * g^2``;
    ``w -= lr * g / sqrt(v + epsilon)`` (with momentum: ``m = momentum * m + that; w -= m``).

    Args:
        learning_rate: the step size ``lr`` (default 0.001).
        rho: the decay of the running mean of ``g^2``, in [0, 1) (default 0.9).
        momentum: in [0, 1] (default 0.0).
        epsilon: added inside the square root, as Keras does (default 1e-7).
        **kwargs: ``lr``, the older name of ``learning_rate`` (with a DeprecationWarning), and
            ``name``.

    Raises:
        ValueError: a negative learning rate, rho outside [0, 1), momentum outside [0, 1].
    """

    _kind = _C.OptimizerKind.rmsprop
    _slot_names = ("velocity", "momentum_buffer")

    def __init__(self, learning_rate: Optional[float] = None, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(_learning_rate(learning_rate, 0.001, kwargs, "RMSprop"))
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must be in [0, 1). Received: rho={rho}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum}")

    def _build_slots(self, n: int) -> None:
        self.velocity = np.zeros(n, np.float32)
        self.momentum_buffer = np.zeros(n, np.float32) if self.momentum else None

    def _hyper_values(self) -> np.ndarray:
        self._hyper[:] = (self.learning_rate, self.rho, self.momentum, self.epsilon)
        return self._hyper

    def _update(self, param: np.ndarray, grad: Any, *slots: Optional[np.ndarray]) -> None:
        assert slots[0] is not None  # built
        ops.rmsprop_update(param, grad, slots[0], slots[1], learning_rate=self.learning_rate,
                           rho=self.rho, momentum=self.momentum, epsilon=self.epsilon)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) as Keras: ``acc += g^2; w -= lr * g / sqrt(acc + epsilon)``,
    the accumulator starting at ``initial_accumulator_value``.

    Args:
        learning_rate: the step size ``lr`` (default 0.001).
        initial_accumulator_value: the accumulator's starting value, >= 0 (default 0.1).
        epsilon: added inside the square root (default 1e-7).
        **kwargs: ``lr``, the older name of ``learning_rate`` (with a DeprecationWarning), and
            ``name``.

    Raises:
        ValueError: a negative learning rate or initial accumulator value.
    """

    _kind = _C.OptimizerKind.adagrad
    _slot_names = ("accumulator",)

    def __init__(self, learning_rate: Optional[float] = None,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(_learning_rate(learning_rate, 0.001, kwargs, "Adagrad"))
        self.initial_accumulator_value = float(initial_accumulator_value)
        if self.initial_accumulator_value < 0:
            raise ValueError("initial_accumulator_value must be >= 0. Received: "
                             f"initial_accumulator_value={initial_accumulator_value}")
        self.epsilon = float(epsilon)

    def _build_slots(self, n: int) -> None:
        self.accumulator = np.full(n, self.initial_accumulator_value, np.float32)

    def _hyper_values(self) -> np.ndarray:
        self._hyper[:2] = (self.learning_rate, self.epsilon)
        return self._hyper[:2]

    def _update(self, param: np.ndarray, grad: Any, *slots: Optional[np.ndarray]) -> None:
        assert slots[0] is not None  # built
        ops.adagrad_update(param, grad, slots[0], learning_rate=self.learning_rate,
                           epsilon=self.epsilon)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014) as Keras, bias correction folded into the step:
    ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``; ``m += (g - m)(1 - beta_1)``;
    ``v += (g^2 - v)(1 - beta_2)``; ``w -= alpha * m / (sqrt(v) + epsilon)``.

    Args:
        learning_rate: the step size ``lr`` (default 0.001).
        beta_1: the decay of the first moment ``m``, in [0, 1) (default 0.9).
        beta_2: the decay of the second moment ``v``, in [0, 1) (default 0.999).
        epsilon: added to ``sqrt(v)`` (default 1e-7).
        **kwargs: ``lr``, the older name of ``learning_rate`` (with a DeprecationWarning), and
            ``name``.

    Raises:
        ValueError: a negative learning rate or a beta outside [0, 1).
    """

    _kind = _C.OptimizerKind.adam
    _slot_names = ("m", "v")

    def __init__(self, learning_rate: Optional[float] = None, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(_learning_rate(learning_rate, 0.001, kwargs, "Adam"))
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1). Received: {name}={value}")

    def _build_slots(self, n: int) -> None:
        self.m = np.zeros(n, np.float32)
        self.v = np.zeros(n, np.float32)

    def _hyper_values(self) -> np.ndarray:
        self._hyper[:] = (self.learning_rate, self.beta_1, self.beta_2, self.epsilon)
        return self._hyper

    def _update(self, param: np.ndarray, grad: Any, *slots: Optional[np.ndarray]) -> None:
        assert slots[0] is not None and slots[1] is not None  # built
        ops.adam_update(param, grad, slots[0], slots[1], step=self.iterations,
                        learning_rate=self.learning_rate, beta_1=self.beta_1,
                        beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam}


def get(identifier: Union[str, Optimizer, Dict[str, Any]]) -> Optimizer:
    """An optimizer from an instance, a name ('sgd', 'rmsprop', 'adagrad', 'adam', any case)
    with Keras' defaults, or a ``{"class_name": ..., "config": {...}}`` dict.

    Args:
        identifier: an Optimizer (returned as is), a name, or a dict with the class name and
            the constructor's arguments (as a model file stores them).

    Returns:
        An Optimizer.

    Raises:
        ValueError: an unknown name or class name; the message lists the valid ones. Also
            an out-of-range setting in a config.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier.get('class_name')!r}. "
                             f"Valid optimizers: {', '.join(sorted(_BY_NAME))}")
        optimizer: Optimizer = cls(**identifier.get("config", {}))
        return optimizer
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        by_name: Optimizer = _BY_NAME[identifier.lower()]()
        return by_name
    raise ValueError(f"Unknown optimizer: {identifier!r}. Valid optimizers: {', '.join(sorted(_BY_NAME))}")
