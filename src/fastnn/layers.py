"""Layers: Dense, Activation, Dropout and Input, with Keras' constructor arguments.

A layer declares its parameters (``param_specs``); the model owns one flat float32 buffer of
parameters and one of gradients, and hands each layer views into them (``bind``). ``forward``
keeps what ``backward`` needs; ``backward`` writes the layer's parameter gradients (each
parameter is used once in a Sequential, so nothing needs accumulating) and returns the gradient
of its input. Scratch buffers are made once per batch size and reused.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import activations, initializers, ops, regularizers
from .utils import get_rng

__all__ = ["Layer", "Dense", "Activation", "Dropout", "InputLayer", "Input"]

Shape = Tuple[int, ...]


def _shape_tuple(shape: Any, what: str) -> Shape:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims: Shape = tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"{what} must be a tuple of positive integers. Received: {shape!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"{what} must be a tuple of positive integers. Received: {shape!r}")
    return dims


class Layer:
    """Base class of fastnn's layers.

    Args:
        name: the layer's name. Defaults to None: the class name in lower case, numbered from
            the second layer of the class on ('dense', 'dense_1', 'dense_2', ...).
        input_shape: per-sample input shape (without the batch axis), an int or a sequence of
            positive ints, for the first layer of a model. Defaults to None.

    Raises:
        ValueError: an ``input_shape`` that is not a tuple of positive integers.
    """

    _count: Dict[str, int] = {}

    def __init__(self, name: Optional[str] = None, input_shape: Optional[Sequence[int]] = None):
        prefix = type(self).__name__.lower()
        if name is None:
            Layer._count[prefix] = Layer._count.get(prefix, 0) + 1
            n = Layer._count[prefix]
            name = prefix if n == 1 else f"{prefix}_{n - 1}"
        self.name = name
        self.input_shape: Optional[Shape] = (
            None if input_shape is None else _shape_tuple(input_shape, "input_shape"))
        self.built = False
        self.output_shape: Optional[Shape] = None
        self._scratch: Dict[Tuple[str, int], np.ndarray] = {}

    # -- building --------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> Shape:
        """Fixes the input shape (per sample) and returns the output shape.

        Args:
            input_shape: the per-sample input shape, without the batch axis.

        Returns:
            The per-sample output shape, a tuple of ints (also kept in ``output_shape``).
        """
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape (per sample) for an input shape (per sample).

        Args:
            input_shape: the per-sample input shape, without the batch axis.

        Returns:
            The per-sample output shape, a tuple of ints (the input shape unchanged here).
        """
        return input_shape

    def param_specs(self) -> List[Tuple[str, Shape, Any]]:
        """(name, shape, initializer) of each parameter, in storage order."""
        return []

    def bind(self, params: List[np.ndarray], grads: List[np.ndarray]) -> None:
        """Receives views into the model's flat parameter and gradient buffers.

        Args:
            params: one float32 array per entry of ``param_specs()``, in that order and of
                that shape: the layer's weights.
            grads: the matching gradient arrays, which ``backward`` writes.
        """

    @property
    def weights(self) -> List[np.ndarray]:
        """The layer's weight arrays (views into the model's buffer); empty until built."""
        return []

    def count_params(self) -> int:
        """The number of trainable scalars."""
        return int(sum(np.prod(s) for _, s, _ in self.param_specs()))

    # -- computing -------------------------------------------------------------------------
    def _buffer(self, key: str, shape: Tuple[int, ...]) -> np.ndarray:
        buf = self._scratch.get((key, shape[0]))
        if buf is None or buf.shape != shape:
            buf = np.empty(shape, np.float32)
            self._scratch[(key, shape[0])] = buf
        return buf

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The layer's output for a batch ``x``; ``training`` switches dropout on.

        Args:
            x: float32 array of shape ``(batch, *input_shape)``.
            training: whether the call is part of a training step (``fit``). Defaults to
                False.

        Returns:
            A float32 array of shape ``(batch, *output_shape)``. It may be the layer's scratch
            buffer, overwritten by the next call with the same batch size.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        """From dLoss/d(output) of the last ``forward``: writes the weights' gradients into the
        model's gradient buffer and returns dLoss/d(input) (None when not needed).

        Args:
            grad: float32 dLoss/d(output), of the shape the last ``forward`` returned.
            need_input_grad: whether dLoss/d(input) is wanted; a model passes False to the
                first layer with weights, which then skips computing it. Defaults to True.

        Returns:
            dLoss/d(input), a float32 array of the last input's shape (possibly a scratch
            buffer), or None when ``need_input_grad`` is False and the layer skips it.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError

    def penalty(self) -> float:
        """This layer's regularization term of the loss."""
        return 0.0

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments, as a model file stores them."""
        config: Dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def __call__(self, x: Any) -> np.ndarray:
        x = ops._as_float32(x, "inputs")
        if not self.built:
            self.build(x.shape[1:])
        if self.param_specs() and not self.weights:
            # Used on its own, outside a model: the layer gets buffers of its own.
            specs = self.param_specs()
            self.bind([np.asarray(initializers.get(init)(shape), np.float32) for _, shape, init in specs],
                      [np.zeros(shape, np.float32) for _, shape, _ in specs])
        return self.forward(x, training=False)


class InputLayer(Layer):
    """Declares the per-sample input shape of a model; computes nothing.

    Args:
        shape: per-sample input shape (without the batch axis), an int or a sequence of
            positive ints.
        name: the layer's name. Defaults to None ('inputlayer', 'inputlayer_1', ...).
        input_shape: the same as ``shape``, used when ``shape`` is None (a model file stores
            it under this name).

    Raises:
        ValueError: no shape, or one that is not a tuple of positive integers.
    """

    def __init__(self, shape: Optional[Sequence[int]] = None, name: Optional[str] = None,
                 input_shape: Optional[Sequence[int]] = None):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer needs a shape, e.g. Input(shape=(784,))")
        super().__init__(name=name, input_shape=shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        return grad


def Input(shape: Sequence[int], name: Optional[str] = None) -> InputLayer:
    """The input of a Sequential model: ``models.Sequential([layers.Input((784,)), ...])``.

    Args:
        shape: per-sample input shape (without the batch axis), an int or a sequence of
            positive ints.
        name: the layer's name. Defaults to None ('inputlayer', 'inputlayer_1', ...).

    Returns:
        An ``InputLayer``.

    Raises:
        ValueError: a shape that is not a tuple of positive integers.
    """
    return InputLayer(shape=shape, name=name)


class Dense(Layer):
    """``activation(x @ kernel + bias)``: kernel of shape (input_dim, units), bias (units,).

    Args:
        units: positive integer, the output width.
        activation: name ('relu', 'sigmoid', 'tanh', 'softmax', 'linear') or function; None is linear.
        use_bias: whether to add a bias. Defaults to True.
        kernel_initializer, bias_initializer: initializer names or callables ``f(shape)``.
            Default 'glorot_uniform' and 'zeros'.
        kernel_regularizer: e.g. ``regularizers.l2(0.001)``, a name or a config dict (see
            ``regularizers.get``). Defaults to None.
        input_shape: per-sample input shape, for the first layer of a model. Defaults to None.
        name: the layer's name. Defaults to None ('dense', 'dense_1', ...).

    Raises:
        ValueError: bad units or input_shape, unknown activation, initializer or regularizer.
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, input_shape: Optional[Sequence[int]] = None,
                 name: Optional[str] = None):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        super().__init__(name=name, input_shape=input_shape)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        initializers.get(kernel_initializer), initializers.get(bias_initializer)  # validate now
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel: Optional[np.ndarray] = None
        self.bias: Optional[np.ndarray] = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def param_specs(self) -> List[Tuple[str, Shape, Any]]:
        assert self.input_shape is not None
        specs: List[Tuple[str, Shape, Any]] = [
            ("kernel", (self.input_shape[-1], self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    def bind(self, params: List[np.ndarray], grads: List[np.ndarray]) -> None:
        self.kernel, self.d_kernel = params[0], grads[0]
        if self.use_bias:
            self.bias, self.d_bias = params[1], grads[1]

    @property
    def weights(self) -> List[np.ndarray]:
        if self.kernel is None:  # not built yet
            return []
        return [self.kernel] if self.bias is None else [self.kernel, self.bias]

    def _bound(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """(kernel, bias or None) once the model has bound them."""
        if self.kernel is None:
            raise RuntimeError(f"layer {self.name!r} has no weights yet: build the model first")
        return self.kernel, self.bias

    def forward(self, x: np.ndarray, training: bool = False, logits: bool = False) -> np.ndarray:
        """The layer's output; with ``logits=True`` the pre-activation (for fused losses).

        Args:
            x: float32 array of shape ``(..., input_dim)``.
            training: part of the common signature; Dense computes the same either way.
                Defaults to False.
            logits: return ``x @ kernel + bias`` without the activation. Defaults to False.

        Returns:
            A float32 array of shape ``(..., units)``: the layer's scratch buffer, overwritten
            by the next call with the same batch size.

        Raises:
            RuntimeError: the layer has no weights yet (it is not built).
        """
        kernel, bias = self._bound()
        self._x = x
        z = self._buffer("z", x.shape[:-1] + (self.units,))
        ops.matmul(x, kernel, out=z)
        if bias is not None:
            ops.add(z, bias, out=z)
        self._y = z if logits else activations.forward(self.activation, z)
        return self._y

    def backward(self, grad: np.ndarray, need_input_grad: bool = True, of_logits: bool = False
                 ) -> Optional[np.ndarray]:
        """Gradients from dLoss/d(output) (or dLoss/d(logits) with ``of_logits=True``).

        Writes dLoss/d(kernel) (plus the regularizer's gradient) and dLoss/d(bias) into the
        gradient views ``bind`` gave.

        Args:
            grad: float32 dLoss/d(output) of the last ``forward``, of shape ``(..., units)``.
            need_input_grad: whether to compute dLoss/d(input). Defaults to True.
            of_logits: ``grad`` is dLoss/d(logits), the pre-activation (the last ``forward``
                ran with ``logits=True``). Defaults to False.

        Returns:
            dLoss/d(input), float32 of the last input's shape (a scratch buffer), or None when
            ``need_input_grad`` is False.

        Raises:
            RuntimeError: the layer has no weights yet (it is not built).
        """
        kernel, bias = self._bound()
        if of_logits or self.activation == "linear":
            gz = grad
        else:
            gz = activations.backward(self.activation, grad, self._y,
                                      out=self._buffer("gz", grad.shape))
        x2 = self._x.reshape(-1, self._x.shape[-1])
        g2 = gz.reshape(-1, self.units)
        ops.matmul(x2, g2, trans_a=True, out=self.d_kernel)
        if self.kernel_regularizer is not None:
            self.kernel_regularizer.add_gradient(kernel, self.d_kernel)
        if bias is not None:
            ops.sum(g2, axis=0, out=self.d_bias)
        if not need_input_grad:
            return None
        gx = self._buffer("gx", self._x.shape)
        ops.matmul(gz, kernel, trans_b=True, out=gx)
        return gx

    def penalty(self) -> float:
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer.penalty(self._bound()[0])

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(units=self.units, activation=self.activation, use_bias=self.use_bias)
        for key in ("kernel_initializer", "bias_initializer"):
            value = getattr(self, key)
            if isinstance(value, str):
                config[key] = value
        if self.kernel_regularizer is not None:
            config["kernel_regularizer"] = self.kernel_regularizer.get_config()
        return config


class Activation(Layer):
    """Applies an activation ('relu', 'sigmoid', 'tanh', 'softmax', 'linear' or a function).

    Args:
        activation: a name, or one of ``fastnn.activations``' functions (or fastnn.ops'
            relu, sigmoid, tanh, softmax); None is linear.
        name: the layer's name. Defaults to None ('activation', 'activation_1', ...).
        input_shape: per-sample input shape, for the first layer of a model. Defaults to None.

    Raises:
        ValueError: an unknown activation, or a bad ``input_shape``.
    """

    def __init__(self, activation: Any, name: Optional[str] = None,
                 input_shape: Optional[Sequence[int]] = None):
        super().__init__(name=name, input_shape=input_shape)
        self.activation = activations.get(activation)

    def forward(self, x: np.ndarray, training: bool = False, logits: bool = False) -> np.ndarray:
        """The activation of ``x``; with ``logits=True``, ``x`` itself (for fused losses).

        Args:
            x: float32 array of any shape (softmax works along the last axis).
            training: part of the common signature; unused. Defaults to False.
            logits: return ``x`` unchanged. Defaults to False.

        Returns:
            A float32 array of ``x``'s shape: the layer's scratch buffer, or ``x`` itself with
            ``logits=True``.
        """
        if logits:
            return x
        y = self._buffer("y", x.shape)
        np.copyto(y, x)
        self._y = activations.forward(self.activation, y)
        return self._y

    def backward(self, grad: np.ndarray, need_input_grad: bool = True, of_logits: bool = False
                 ) -> Optional[np.ndarray]:
        """dLoss/d(input) from dLoss/d(output) and the last ``forward``'s output.

        Args:
            grad: float32 dLoss/d(output), of the last output's shape.
            need_input_grad: part of the common signature; the gradient is always returned.
                Defaults to True.
            of_logits: ``grad`` is already dLoss/d(input) (the last ``forward`` ran with
                ``logits=True``); it is returned unchanged. Defaults to False.

        Returns:
            A float32 array of ``grad``'s shape (a scratch buffer, or ``grad`` itself for
            'linear' or ``of_logits=True``).
        """
        if of_logits or self.activation == "linear":
            return grad
        return activations.backward(self.activation, grad, self._y,
                                    out=self._buffer("gx", grad.shape))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by
    1 / (1 - rate) (inverted dropout, as Keras); the identity at inference.

    Args:
        rate: the fraction of inputs to drop, a float in [0, 1).
        name: the layer's name. Defaults to None ('dropout', 'dropout_1', ...).
        input_shape: per-sample input shape, for the first layer of a model. Defaults to None.

    Raises:
        ValueError: a rate outside [0, 1), or a bad ``input_shape``.
    """

    def __init__(self, rate: float, name: Optional[str] = None,
                 input_shape: Optional[Sequence[int]] = None):
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
        super().__init__(name=name, input_shape=input_shape)
        self.rate = rate

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._training = training and self.rate > 0.0
        if not self._training:
            return x
        mask = self._buffer("mask", x.shape)
        get_rng().random(out=mask, dtype=np.float32)
        # mask = (u >= rate) / (1 - rate), without a temporary
        np.greater_equal(mask, self.rate, out=mask, casting="unsafe")
        mask *= np.float32(1.0 / (1.0 - self.rate))
        return ops.multiply(x, mask, out=self._buffer("y", x.shape))

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        if not self._training:
            return grad
        return ops.multiply(grad, self._scratch[("mask", grad.shape[0])],
                            out=self._buffer("gx", grad.shape))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, Activation, Dropout, InputLayer)}
