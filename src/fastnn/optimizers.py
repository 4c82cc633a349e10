"""Optimizers with Keras' names, defaults and update rules. Each updates the model's parameters
in one fused C++ pass over flat buffers (parameters, gradients and every slot are contiguous
float32 arrays), so a step costs one kernel call whatever the number of layers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import ops

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "get"]


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    return value


class Optimizer:
    """Base class: ``build(n)`` allocates the slots for n parameters, ``apply(params, grads)``
    performs one update in place, ``get_config()`` returns the settings.

    Args:
        learning_rate: the step size, a float >= 0.

    Raises:
        ValueError: a negative (or NaN) learning rate.
    """

    def __init__(self, learning_rate: float):
        self.learning_rate = _check_rate("learning_rate", learning_rate)
        self.iterations = 0
        self._size: Optional[int] = None

    def build(self, n: int) -> None:
        """Allocates the optimizer's state for n parameters (idempotent for the same n).

        A different n starts afresh: new zeroed slots and ``iterations`` back to 0.

        Args:
            n: the number of scalar parameters, the size of the model's flat buffer.
        """
        if self._size != n:
            self._size = n
            self.iterations = 0
            self._build_slots(n)

    def _build_slots(self, n: int) -> None:
        pass

    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """One update of the flat parameter buffer from the flat gradient buffer.

        Builds the slots for ``params.size`` if needed and counts the step in ``iterations``.

        Args:
            params: the flat float32 C-contiguous parameter buffer, updated in place.
            grads: the flat gradient buffer, of the same size.

        Raises:
            NotImplementedError: on the base class.
            ValueError: buffers of different sizes, or a params buffer that is not
                contiguous or is read-only (from the ``ops.*_update`` kernels).
            TypeError: a params buffer that is not a float32 numpy array.
        """
        self.build(params.size)
        self.iterations += 1
        self._update(params, grads)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    # The fused training step (fastnn._C.Mlp) runs the built-in optimizers' updates itself, from:
    # (kind code, slot 0, slot 1, hyper-parameters, 1-based step, nesterov), each kind's
    # hyper-parameters as the ops.*_update function of the same name takes them.
    def _kernel_args(self) -> Tuple[int, Optional[np.ndarray], Optional[np.ndarray], List[float], int, bool]:
        raise NotImplementedError

    def _begin_fused_step(self, n: int) -> Tuple[int, Optional[np.ndarray], Optional[np.ndarray], List[float], int, bool]:
        """Counts one step for n parameters and returns the fused step's update arguments."""
        self.build(n)
        self.iterations += 1
        return self._kernel_args()

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments, so that ``type(opt)(**opt.get_config())`` is a twin."""
        return {"learning_rate": self.learning_rate}

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

    Raises:
        ValueError: a negative learning rate or a momentum outside [0, 1].
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum}")
        self.nesterov = bool(nesterov)

    def _build_slots(self, n: int) -> None:
        self.velocity = np.zeros(n, np.float32) if self.momentum else None

    def _kernel_args(self):  # type: ignore[no-untyped-def]
        return (0, self.velocity, None, [self.learning_rate, self.momentum], self.iterations,
                self.nesterov)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        ops.sgd_update(params, grads, self.velocity, learning_rate=self.learning_rate,
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

    Raises:
        ValueError: a negative learning rate, rho outside [0, 1), momentum outside [0, 1].
    """

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must be in [0, 1). Received: rho={rho}")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum}")

    def _build_slots(self, n: int) -> None:
        self.velocity = np.zeros(n, np.float32)
        self.momentum_buffer = np.zeros(n, np.float32) if self.momentum else None

    def _kernel_args(self):  # type: ignore[no-untyped-def]
        return (1, self.velocity, self.momentum_buffer,
                [self.learning_rate, self.rho, self.momentum, self.epsilon], self.iterations, False)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        ops.rmsprop_update(params, grads, self.velocity, self.momentum_buffer,
                           learning_rate=self.learning_rate, rho=self.rho,
                           momentum=self.momentum, epsilon=self.epsilon)

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

    Raises:
        ValueError: a negative learning rate or initial accumulator value.
    """

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = float(initial_accumulator_value)
        if self.initial_accumulator_value < 0:
            raise ValueError("initial_accumulator_value must be >= 0. Received: "
                             f"initial_accumulator_value={initial_accumulator_value}")
        self.epsilon = float(epsilon)

    def _build_slots(self, n: int) -> None:
        self.accumulator = np.full(n, self.initial_accumulator_value, np.float32)

    def _kernel_args(self):  # type: ignore[no-untyped-def]
        return (2, self.accumulator, None, [self.learning_rate, self.epsilon], self.iterations, False)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        ops.adagrad_update(params, grads, self.accumulator, learning_rate=self.learning_rate,
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

    Raises:
        ValueError: a negative learning rate or a beta outside [0, 1).
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1). Received: {name}={value}")

    def _build_slots(self, n: int) -> None:
        self.m = np.zeros(n, np.float32)
        self.v = np.zeros(n, np.float32)

    def _kernel_args(self):  # type: ignore[no-untyped-def]
        return (3, self.m, self.v, [self.learning_rate, self.beta_1, self.beta_2, self.epsilon],
                self.iterations, False)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        ops.adam_update(params, grads, self.m, self.v, step=self.iterations,
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
