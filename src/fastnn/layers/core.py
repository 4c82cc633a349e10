"""The core layers, with Keras' names and arguments: Input, Dense, Activation, Dropout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import numpy as np

from .. import activations, initializers, ops, regularizers
from ..utils import get_rng
from .base import InputSpec, Layer, NotCompilable, _shape_arg
from .node import KerasTensor, Node

if TYPE_CHECKING:
    from ..trainers.program import ProgramBuilder

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Dropout"]


class InputLayer(Layer):
    """The entry of a graph: holds the symbolic tensor that ``layers.Input`` returns.

    Args:
        shape: the per-sample shape (no batch axis), a tuple of positive ints (None for an
            axis of any size).
        batch_size: a fixed batch size, or None (default) for any.
        dtype: 'float32' or None.
        batch_shape: the whole shape, batch axis first, instead of ``shape`` and
            ``batch_size``.
        name: the layer's name. Defaults to None ('input_layer', 'input_layer_1', ...).
        input_shape: the same as ``shape`` (the name older model files use).

    Raises:
        ValueError: no shape, a bad one, or a dtype other than float32.
    """

    def __init__(self, shape: Optional[Sequence[Optional[int]]] = None,
                 batch_size: Optional[int] = None, dtype: Any = None,
                 batch_shape: Optional[Sequence[Optional[int]]] = None, name: Optional[str] = None,
                 input_shape: Optional[Sequence[Optional[int]]] = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                shape = input_shape
            if shape is None:
                raise ValueError("An Input needs a shape, e.g. Input(shape=(784,))")
            batch_shape = (batch_size,) + _shape_arg(shape, "shape")
        else:
            batch_shape = tuple(batch_shape[:1]) + _shape_arg(tuple(batch_shape[1:]), "batch_shape")
        self.batch_shape = tuple(batch_shape)
        self.built = True
        self._build_shapes = (None,) + self.batch_shape[1:]
        tensor = KerasTensor(self.batch_shape, name=self.name)
        Node(self, [], [tensor])
        self._inbound_nodes.append(tensor._node)  # type: ignore[arg-type]
        self._tensor = tensor

    @property
    def output(self) -> KerasTensor:
        """The symbolic tensor this input stands for."""
        return self._tensor

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": "float32"}


def Input(shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None,
          dtype: Any = None, batch_shape: Optional[Sequence[Optional[int]]] = None,
          name: Optional[str] = None) -> KerasTensor:
    """The input of a model: a symbolic tensor to call layers on (the functional API), or, in a
    ``Sequential`` list, the declaration of the input shape.

    ::

        inputs = layers.Input(shape=(784,))
        x = layers.Dense(32, activation="relu")(inputs)
        outputs = layers.Dense(10, activation="softmax")(x)
        model = models.Model(inputs=inputs, outputs=outputs)

    Args:
        shape: the per-sample shape (no batch axis), e.g. ``(784,)``.
        batch_size: a fixed batch size, or None (default) for any.
        dtype: 'float32' or None (default).
        batch_shape: the whole shape, batch axis first, instead of ``shape``.
        name: the input layer's name (and the key of this input when data is given as a
            dict). Defaults to None ('input_layer', 'input_layer_1', ...).

    Returns:
        A ``KerasTensor`` of shape ``(batch_size, *shape)``.

    Raises:
        ValueError: no shape, a bad one, or a dtype other than float32.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name).output


def _check_units(units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"units must be a positive integer. Received: units={units!r}")
    return int(units)


class Dense(Layer):
    """``activation(inputs @ kernel + bias)``: kernel of shape (input_dim, units), bias (units,).
    Computed by one C++ call (``ops.dense``: the bias and the activation in the GEMM's epilogue),
    the same forward/backward pair a compiled model runs.

    Args:
        units: positive integer, the output width.
        activation: name ('relu', 'sigmoid', 'tanh', 'softmax', 'linear'), a function of
            ``fastnn.activations`` or any callable written with ``fastnn.ops``; None is linear.
        use_bias: whether to add a bias. Defaults to True.
        kernel_initializer, bias_initializer: initializer names or callables ``f(shape)``.
            Default 'glorot_uniform' and 'zeros'.
        kernel_regularizer, bias_regularizer: e.g. ``regularizers.l2(0.001)``, a name or a
            config dict (see ``regularizers.get``). Default None.
        **kwargs: the base Layer's arguments: name, trainable, input_shape or input_dim (for
            the first layer of a Sequential model).

    Raises:
        ValueError: bad units or input shape, unknown activation, initializer or regularizer.
    """

    _takes_sparse = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, **kwargs: Any):
        units = _check_units(units)
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        initializers.get(kernel_initializer), initializers.get(bias_initializer)  # validate now
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel: Any = None
        self.bias: Any = None
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Any) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"layer '{self.name}' (Dense) needs the size of its inputs' last "
                             f"axis; received input shape {input_shape}")
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: int(input_dim)})

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        act = self.activation
        precision = "bfloat16" if self.dtype_policy.bfloat16_gemms else "float32"
        if isinstance(act, str) and act != "softmax":
            return ops.dense(inputs, self.kernel, self.bias, act, precision)
        return activations.apply(act, ops.dense(inputs, self.kernel, self.bias,
                                                precision=precision))

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        (x,) = node.inputs
        if len(x.shape) != 2:
            raise NotCompilable(f"layer '{self.name}' (Dense) gets inputs of shape {x.shape}: "
                                f"the C++ program runs dense layers on (batch, features) only")
        if not isinstance(self.activation, str):
            raise NotCompilable(f"layer '{self.name}' (Dense) has a custom activation")
        if self.activation == "softmax":
            return [builder.activation(builder.dense(self, builder.value(x), "linear"), "softmax")]
        return [builder.dense(self, builder.value(x), self.activation)]

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(units=self.units, activation=activations.serialize(self.activation),
                      use_bias=self.use_bias)
        for key in ("kernel_initializer", "bias_initializer"):
            value = getattr(self, key)
            if isinstance(value, str):
                config[key] = value
        for key in ("kernel_regularizer", "bias_regularizer"):
            value = getattr(self, key)
            if value is not None:
                config[key] = value.get_config()
        return config


class Activation(Layer):
    """Applies an activation ('relu', 'sigmoid', 'tanh', 'softmax', 'linear', or a function).

    Args:
        activation: a name, one of ``fastnn.activations``' functions (or fastnn.ops' relu,
            sigmoid, tanh, softmax), or a callable written with ``fastnn.ops``; None is linear.
        **kwargs: the base Layer's arguments (name, input_shape, ...).

    Raises:
        ValueError: an unknown activation name.
    """

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        return activations.apply(self.activation, inputs)

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        if not isinstance(self.activation, str):
            raise NotCompilable(f"layer '{self.name}' (Activation) has a custom activation")
        return [builder.activation(builder.value(node.inputs[0]), self.activation)]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by
    1 / (1 - rate) (inverted dropout, as Keras); the identity at inference.

    The mask is drawn by the C++ kernel from the layer's seed and its count of training calls
    (``ops.dropout``), so a compiled model and the same model run op by op drop the same units.

    Args:
        rate: the fraction of inputs to drop, a float in [0, 1).
        noise_shape: not supported (None).
        seed: an integer seed; None (default) takes one from fastnn's generator when the layer
            is built (``utils.set_random_seed`` makes it repeatable).
        **kwargs: the base Layer's arguments (name, input_shape, ...).

    Raises:
        ValueError: a rate outside [0, 1), a noise_shape, or a negative seed.
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any):
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported; leave it None")
        if seed is not None and (isinstance(seed, bool) or int(seed) < 0):
            raise ValueError(f"seed must be a non-negative integer. Received: seed={seed!r}")
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = None if seed is None else int(seed)
        # {seed, training calls so far}: the C++ program reads and advances the same counter.
        self._state = np.zeros(2, np.uint64)

    def build(self, input_shape: Any) -> None:
        seed = self.seed if self.seed is not None else int(get_rng().integers(0, 2**63))
        self._state[:] = (seed % 2**64, 0)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        seed, counter = int(self._state[0]), int(self._state[1])
        self._state[1] = counter + 1
        return ops.dropout(inputs, self.rate, seed, counter)

    def _compile(self, builder: ProgramBuilder, node: Node) -> List[int]:
        return [builder.dropout(self, builder.value(node.inputs[0]))]

    def get_config(self) -> Dict[str, Any]:
        config = {**super().get_config(), "rate": self.rate}
        if self.seed is not None:
            config["seed"] = self.seed
        return config
