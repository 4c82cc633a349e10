"""Sequential models with Keras' workflow: add -> compile -> fit -> evaluate / predict, saving.

All parameters live in one flat float32 buffer and all gradients in another; each layer's kernel
and bias are views into them, so the optimizer updates everything in one fused pass per step.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import callbacks as callbacks_module
from . import initializers, losses, metrics as metrics_module, ops, optimizers
from . import _C
from .layers import LAYER_CLASSES, Dense, Dropout, InputLayer, Layer
from .utils import get_rng

__all__ = ["Sequential", "load_model"]

FORMAT_NAME = "fastnn"
FORMAT_VERSION = 1
_CONFIG_KEY = "__fastnn_config__"


def _as_inputs(x: Any, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; received dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _as_targets(y: Any, name: str = "y") -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; received dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


class Sequential:
    """A linear stack of layers.

    Args:
        layers: optional list of layers to add, in order (see ``add``). Defaults to None.
        name: the model's name. Defaults to None, which names it 'sequential'.

    Raises:
        TypeError: an item that is not a fastnn layer.
        ValueError: an Input layer anywhere but first.
    """

    def __init__(self, layers: Optional[Sequence[Layer]] = None, name: Optional[str] = None):
        self.name = name or "sequential"
        self.layers: List[Layer] = []
        self.built = False
        self.compiled = False
        self.stop_training = False
        self.optimizer: Optional[optimizers.Optimizer] = None
        self.loss: Optional[str] = None
        self._metric_ids: List[Any] = []
        # fit's training step and predict run as one C++ call per batch when every layer allows
        # it (Dense layers, built-in optimizers, no regularizers); False runs them layer by layer.
        self.fused_step = True
        self._mlp: Dict[int, Any] = {}
        for layer in layers or []:
            self.add(layer)

    # ---- structure -----------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Appends a layer; the model is built as soon as the first layer knows its input shape.

        Args:
            layer: a fastnn layer (``layers.Dense``, ``Activation``, ``Dropout``, ``Input``).

        Raises:
            TypeError: an object that is not a fastnn layer.
            ValueError: an Input layer added to a model that already has layers.
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a fastnn layer; received {type(layer).__name__}")
        if isinstance(layer, InputLayer) and self.layers:
            raise ValueError("An Input layer can only be the first layer of a Sequential model")
        self.layers.append(layer)
        if self.layers[0].input_shape is not None:
            self.build((None,) + tuple(self.layers[0].input_shape))
        else:
            self.built = False

    @property
    def input_shape(self) -> Optional[Tuple[Optional[int], ...]]:
        """``(None, *features)`` once the first layer knows its input, else None."""
        first = self.layers[0] if self.layers else None
        return None if first is None or first.input_shape is None else (None,) + first.input_shape

    @property
    def output_shape(self) -> Optional[Tuple[Optional[int], ...]]:
        """``(None, *outputs)`` once built, else None."""
        if not self.built:
            return None
        return (None,) + tuple(self.layers[-1].output_shape or ())

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        """Builds every layer for inputs of shape ``(batch, *input_shape[1:])`` and lays out the
        flat parameter and gradient buffers. Layers already built keep their weights.

        Args:
            input_shape: the input shape with the batch axis first, e.g. ``(None, 784)``; the
                batch entry is ignored.

        Raises:
            ValueError: an empty model, or a size of None after the batch axis.
        """
        if not self.layers:
            raise ValueError("Cannot build an empty Sequential model: add layers first")
        old = {id(layer): [w.copy() for w in layer.weights] for layer in self.layers}
        shape: Tuple[int, ...] = ()
        for d in input_shape[1:]:
            if d is None:
                raise ValueError(f"build: every axis but the batch axis needs a size; received "
                                 f"input_shape={tuple(input_shape)}")
            shape += (int(d),)
        for layer in self.layers:
            shape = layer.build(shape)
        specs = [(layer, layer.param_specs()) for layer in self.layers]
        total = sum(int(np.prod(s)) for _, layer_specs in specs for _, s, _ in layer_specs)
        self._params = np.empty(total, np.float32)
        self._grads = np.zeros(total, np.float32)
        offset = 0
        for layer, layer_specs in specs:
            views, grads = [], []
            for _, s, _init in layer_specs:
                n = int(np.prod(s))
                views.append(self._params[offset:offset + n].reshape(s))
                grads.append(self._grads[offset:offset + n].reshape(s))
                offset += n
            previous = old[id(layer)]
            for i, (view, (_, s, init)) in enumerate(zip(views, layer_specs)):
                keep = i < len(previous) and previous[i].shape == s
                view[...] = previous[i] if keep else initializers.get(init)(s)
            layer.bind(views, grads)
        self._mlp = {}
        self.built = True
        if self.optimizer is not None:
            self.optimizer.build(total)

    def count_params(self) -> int:
        """The number of trainable scalars (0 before the model is built)."""
        return int(self._params.size) if self.built else 0

    # ---- compile -------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Optional[Sequence[Any]] = None) -> None:
        """Configures training.

        Args:
            optimizer: name ('rmsprop', 'adam', 'sgd', 'adagrad') or an optimizer instance.
                Defaults to 'rmsprop'.
            loss: name or function from ``fastnn.losses``; required.
            metrics: list of metric names ('accuracy', 'mae', 'mse', ...) or functions.
                Defaults to None, no metrics.

        Raises:
            ValueError: no loss, or an unknown optimizer, loss or metric (the message lists the
                valid ones).
        """
        if loss is None:
            raise ValueError(f"compile needs a loss. Valid losses: {', '.join(sorted(losses._BY_NAME))}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._metric_ids = list(metrics or [])
        for m in self._metric_ids:
            metrics_module.get(m, self.loss)  # validate names now
        if self.built:
            self.optimizer.build(self._params.size)
        self.compiled = True

    def _fused_loss(self) -> Optional[str]:
        """Which fused loss applies: softmax + (sparse) categorical cross-entropy, or sigmoid +
        binary cross-entropy, when the last layer carries that activation."""
        last = self.layers[-1]
        activation = getattr(last, "activation", None)
        if activation == "softmax" and self.loss in ("categorical_crossentropy",
                                                     "sparse_categorical_crossentropy"):
            return "softmax_xent"
        if activation == "sigmoid" and self.loss == "binary_crossentropy":
            return "sigmoid_bce"
        return None

    # ---- the fused path ------------------------------------------------------------------
    _OUTPUT_LOSS = {"softmax": 0, "sigmoid": 1, "linear": 2}  # fastnn::MlpLoss codes
    _LOSS_OF_OUTPUT = {"softmax": ("categorical_crossentropy", "sparse_categorical_crossentropy"),
                       "sigmoid": ("binary_crossentropy",), "linear": ("mean_squared_error",)}
    _HIDDEN_ACT = {"relu": 0, "sigmoid": 1, "tanh": 2, "linear": -1}  # fastnn::UnaryOp codes

    def _fused_mlp(self, training: bool) -> Optional[Any]:
        """The compiled dense stack (``fastnn._C.Mlp``) for this model, or None when a layer, the
        loss (training) or the optimizer (training) needs the layer-by-layer path."""
        if not (self.fused_step and self.built):
            return None
        active = [layer for layer in self.layers
                  if not isinstance(layer, InputLayer) and not (isinstance(layer, Dropout) and
                                                                 (layer.rate == 0.0 or not training))]
        dense = [d for d in active if isinstance(d, Dense) and d.kernel_regularizer is None]
        if not dense or len(dense) != len(active):
            return None
        out_act = dense[-1].activation
        if out_act not in self._OUTPUT_LOSS or any(d.activation not in self._HIDDEN_ACT for d in dense[:-1]):
            return None
        if training and (self.loss not in self._LOSS_OF_OUTPUT[out_act] or
                         type(self.optimizer) not in (optimizers.SGD, optimizers.RMSprop,
                                                      optimizers.Adagrad, optimizers.Adam)):
            return None
        code = self._OUTPUT_LOSS[out_act]
        if code not in self._mlp:
            base = self._params.ctypes.data

            def offset(a: Optional[np.ndarray]) -> int:
                return -1 if a is None else (a.ctypes.data - base) // 4

            specs = [(kernel.shape[0], d.units, offset(kernel), offset(bias),
                      self._HIDDEN_ACT.get(d.activation, -1))
                     for d, (kernel, bias) in ((d, d._bound()) for d in dense)]
            self._mlp[code] = _C.Mlp(self._params, self._grads, specs, code)
        return self._mlp[code]

    def _fused_targets(self, y: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """(integer labels, None) or (None, float32 target rows) for the fused step."""
        if self.loss == "sparse_categorical_crossentropy":
            return np.ascontiguousarray(y.reshape(len(y)), dtype=np.int64), None
        return None, np.ascontiguousarray(y.reshape(len(y), -1), dtype=np.float32)

    def _metric_fns(self, y: np.ndarray) -> List[Tuple[str, Callable[..., np.ndarray]]]:
        width = int(self.layers[-1].output_shape[-1]) if self.layers[-1].output_shape else 1
        out = []
        for m in self._metric_ids:
            name, fn = metrics_module.get(m, self.loss, width)
            out.append((name, metrics_module.resolve_accuracy(fn, y, width)))
        return out

    # ---- the steps -----------------------------------------------------------------------
    def _forward(self, x: np.ndarray, training: bool, logits: bool) -> np.ndarray:
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last and logits:
                h = layer.forward(h, training=training, logits=True)  # type: ignore[call-arg]
            else:
                h = layer.forward(h, training=training)
        return h

    def _loss_and_gradient(self, out: np.ndarray, y: np.ndarray, fused: Optional[str]
                           ) -> Tuple[float, np.ndarray, np.ndarray]:
        """(mean loss, dLoss/d(out), predictions) for a batch; out are logits when fused."""
        if fused == "softmax_xent":
            labels = y if y.ndim == 1 or y.shape[1:] == out.shape[1:] else y.reshape(len(y))
            loss, grad = ops.softmax_cross_entropy(out, labels)
            return float(loss), grad, ops.softmax(out)
        if fused == "sigmoid_bce":
            target = y.reshape(out.shape).astype(np.float32, copy=False)
            p = ops.sigmoid(out)
            # log(1 + exp(-|z|)) + max(z, 0) - z*y: no overflow for any z
            per = np.maximum(out, 0) - out * target + np.log1p(np.exp(-np.abs(out)))
            n = out.size
            loss = float(per.mean(dtype=np.float64)) if n else float("nan")
            grad = ops.multiply(ops.subtract(p, target), 1.0 / max(1, n))
            return loss, grad, p
        assert self.loss is not None  # compiled
        loss, grad = losses.mean_and_gradient(self.loss, y, out)
        return loss, grad, out

    def _penalty(self) -> float:
        return float(sum(layer.penalty() for layer in self.layers))

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> Tuple[float, np.ndarray]:
        """One optimizer step on a batch; returns (loss, predictions).

        The model must be compiled and built; ``x`` and ``y`` are used as given (``fit``
        converts and checks them first).

        Args:
            x: float32 array of inputs, shape ``(batch, *input_shape)``.
            y: the batch's targets, in the form the compiled loss takes.

        Returns:
            ``(loss, predictions)``: the batch-mean loss plus the regularization penalties, a
            float, computed before the update; and the model's float32 outputs for ``x``,
            shape ``(batch, *output_shape)``.
        """
        fused = self._fused_loss()
        out = self._forward(x, training=True, logits=fused is not None)
        loss, grad, pred = self._loss_and_gradient(out, y, fused)
        loss += self._penalty()
        first = next((i for i, layer in enumerate(self.layers) if layer.param_specs()), 0)
        g: Optional[np.ndarray] = grad
        for i in range(len(self.layers) - 1, first - 1, -1):
            layer = self.layers[i]
            assert g is not None  # only the first layer with weights returns no input gradient
            if i == len(self.layers) - 1 and fused is not None:
                g = layer.backward(g, need_input_grad=i > first, of_logits=True)  # type: ignore[call-arg]
            else:
                g = layer.backward(g, need_input_grad=i > first)
        assert self.optimizer is not None
        self.optimizer.apply(self._params, self._grads)
        return loss, pred

    # ---- checks --------------------------------------------------------------------------
    def _check_data(self, x: np.ndarray, y: Optional[np.ndarray], what: str) -> None:
        if x.ndim < 2:
            raise ValueError(f"{what}: x must have a batch axis and features, e.g. (n, 784); "
                             f"received shape {x.shape}")
        if y is not None and len(x) != len(y):
            raise ValueError(f"{what}: x and y have different numbers of samples: "
                             f"{len(x)} and {len(y)}")
        if self.built and self.input_shape is not None and x.shape[1:] != tuple(self.input_shape[1:]):
            raise ValueError(f"{what}: the model expects inputs of shape "
                             f"{tuple(self.input_shape)}; received {x.shape}")

    def _output_shape(self) -> Tuple[int, ...]:
        shape = self.layers[-1].output_shape
        assert shape is not None  # built
        return tuple(shape)

    def _check_targets(self, y: np.ndarray, what: str) -> None:
        out_dim = self._output_shape()[-1]
        if self.loss in ("sparse_categorical_crossentropy",):
            losses.sparse_labels(y, len(y), out_dim)
        elif self.loss == "categorical_crossentropy":
            if y.ndim != 2 or y.shape[1] != out_dim:
                raise ValueError(
                    f"{what}: categorical_crossentropy needs one-hot targets of shape "
                    f"({len(y)}, {out_dim}); received {y.shape}. For integer labels use "
                    f"loss='sparse_categorical_crossentropy' or utils.to_categorical")
        else:
            out_shape = self._output_shape()
            if y.shape[1:] != out_shape and not (out_shape == (1,) and y.ndim == 1):
                raise ValueError(f"{what}: {self.loss} needs targets shaped like the model's "
                                 f"output, {(len(y),) + out_shape}; received {y.shape}")

    @staticmethod
    def _check_batch_size(batch_size: Any) -> int:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
        return int(batch_size)

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}()")

    # ---- fit / evaluate / predict --------------------------------------------------------
    def fit(self, x: Any, y: Any, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data: Optional[Tuple[Any, Any]] = None,
            shuffle: bool = True, callbacks: Optional[Sequence[callbacks_module.Callback]] = None,
            initial_epoch: int = 0) -> callbacks_module.History:
        """Trains the model for ``epochs`` epochs of mini-batch gradient descent.

        Args:
            x: numeric array of inputs, shape ``(n, *input_shape)``.
            y: targets: integer labels (n,) for sparse categorical cross-entropy, one-hot rows
                (n, k) for categorical cross-entropy, else ``(n, *output_shape)`` ((n,) for an
                output of width 1).
            batch_size: samples per gradient step; the last batch may be smaller. Defaults
                to 32.
            epochs: the epoch to end at: training runs ``epochs - initial_epoch`` epochs,
                numbered ``initial_epoch`` to ``epochs - 1``. Defaults to 1.
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch. Defaults to 1.
            validation_split: fraction in [0, 1) of the samples held out for validation: the
                last ones, before shuffling. Ignored when ``validation_data`` is given.
                Defaults to 0.0.
            validation_data: ``(x_val, y_val)`` evaluated after each epoch. Defaults to None.
            shuffle: shuffle the training samples before each epoch. Defaults to True.
            callbacks: list of ``fastnn.callbacks.Callback`` instances. Defaults to None.
            initial_epoch: the epoch to start from (0-based), to resume training. Defaults
                to 0.

        Returns:
            A History whose ``history`` maps 'loss', each metric and their 'val_' twins to
            per-epoch lists.

        Raises:
            RuntimeError: fit before compile.
            ValueError: mismatched or empty data, a wrong feature count, bad labels, bad
                batch_size or validation_split.
            TypeError: non-numeric x or y.
        """
        self._require_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        x, y = _as_inputs(x), _as_targets(y)
        self._check_data(x, y, "fit")
        if len(x) == 0:
            raise ValueError("fit: the dataset is empty (0 samples)")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1). Received: {validation_split}")
        xv: Optional[np.ndarray] = None
        yv: Optional[np.ndarray] = None
        if validation_data is not None:
            xv, yv = _as_inputs(validation_data[0], "validation x"), _as_targets(validation_data[1], "validation y")
        elif validation_split > 0.0:
            # Keras holds out the last samples, before any shuffling.
            split = int(len(x) * (1.0 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(x)}")
            x, xv, y, yv = x[:split], x[split:], y[:split], y[split:]
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._check_data(x, y, "fit")
        self._check_targets(y, "fit")
        if xv is not None and yv is not None:
            self._check_data(xv, yv, "fit (validation data)")
            self._check_targets(yv, "fit (validation data)")

        n = len(x)
        steps = math.ceil(n / batch_size)
        history = callbacks_module.History()
        cbs: List[callbacks_module.Callback] = [history, *(callbacks or [])]
        if verbose:
            cbs.append(callbacks_module.ProgressBar(verbose, epochs, steps))
        for cb in cbs:
            cb.set_model(self)
        metric_fns = self._metric_fns(y)
        # Batch buffers made once: a full batch and the last, shorter one.
        x_buf = {b: np.empty((b,) + x.shape[1:], np.float32) for b in {min(batch_size, n), n - (steps - 1) * batch_size}}
        y_buf = {b: np.empty((b,) + y.shape[1:], y.dtype) for b in x_buf}
        rng = get_rng()
        optimizer = self.optimizer
        assert optimizer is not None  # compiled
        mlp = self._fused_mlp(training=True) if x.ndim == 2 else None
        if mlp is not None:
            labels, targets = self._fused_targets(y)
            # The fused step counts correct predictions itself; other metrics need the layers.
            if not all(fn in (metrics_module.categorical_accuracy,
                              metrics_module.sparse_categorical_accuracy) and self._OUTPUT_LOSS.get(
                                  str(getattr(self.layers[-1], "activation", ""))) == 0
                      for _, fn in metric_fns):
                mlp = None
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else np.arange(n)
            totals = np.zeros(1 + len(metric_fns))
            seen = 0
            logs: Dict[str, float] = {}
            for step in range(steps):
                rows = order[step * batch_size:(step + 1) * batch_size]
                if mlp is not None:
                    loss_sum, correct = mlp.train_step(
                        x, rows, labels, targets, *optimizer._begin_fused_step(self._params.size))
                    totals[0] += loss_sum
                    totals[1:] += correct
                else:
                    xb = np.take(x, rows, axis=0, out=x_buf[len(rows)])
                    yb = np.take(y, rows, axis=0, out=y_buf[len(rows)])
                    loss, pred = self.train_on_batch(xb, yb)
                    totals[0] += loss * len(rows)
                    for j, (_, fn) in enumerate(metric_fns):
                        totals[1 + j] += float(np.sum(fn(yb, pred), dtype=np.float64))
                seen += len(rows)
                logs = {"loss": totals[0] / seen,
                        **{name: totals[1 + j] / seen for j, (name, _) in enumerate(metric_fns)}}
                for cb in cbs:
                    cb.on_batch_end(step, logs)  # a NaN batch loss makes the running mean NaN
                if self.stop_training:
                    break
            if xv is not None and yv is not None:
                values = self._evaluate_arrays(xv, yv, batch_size, metric_fns)
                logs.update({"val_loss": values[0]})
                logs.update({"val_" + name: v for (name, _), v in zip(metric_fns, values[1:])})
            for cb in cbs:
                cb.on_epoch_end(epoch, dict(logs))
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return history

    def _evaluate_arrays(self, x: np.ndarray, y: np.ndarray, batch_size: int,
                         metric_fns: List[Tuple[str, Callable[..., np.ndarray]]]) -> List[float]:
        fused = self._fused_loss()
        totals = np.zeros(1 + len(metric_fns))
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            out = self._forward(xb, training=False, logits=fused is not None)
            loss, _, pred = self._loss_and_gradient(out, yb, fused)
            totals[0] += loss * len(xb)
            for j, (_, fn) in enumerate(metric_fns):
                totals[1 + j] += float(np.sum(fn(yb, pred), dtype=np.float64))
        values = list(totals / max(1, len(x)))
        values[0] += self._penalty()
        return values

    def evaluate(self, x: Any, y: Any, batch_size: int = 32, verbose: int = 1,
                 return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """The loss (and metrics) on the given data, in inference mode.

        Args:
            x: numeric array of inputs, shape ``(n, *input_shape)``.
            y: targets, as for ``fit``.
            batch_size: samples per forward pass. Defaults to 32.
            verbose: 1 prints the loss and metrics on one line, 0 prints nothing. Defaults
                to 1.
            return_dict: return ``{name: value}`` instead. Defaults to False.

        Returns:
            The loss, or ``[loss, *metrics]`` when metrics were compiled (a dict with
            ``return_dict=True``). The loss includes the regularization penalties.

        Raises:
            RuntimeError: evaluate before compile.
            ValueError: mismatched or empty data, a wrong feature count, bad labels or a bad
                batch_size.
            TypeError: non-numeric x or y.
        """
        self._require_compiled("evaluate")
        batch_size = self._check_batch_size(batch_size)
        x, y = _as_inputs(x), _as_targets(y)
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._check_data(x, y, "evaluate")
        if len(x) == 0:
            raise ValueError("evaluate: the dataset is empty (0 samples)")
        self._check_targets(y, "evaluate")
        metric_fns = self._metric_fns(y)
        values = self._evaluate_arrays(x, y, batch_size, metric_fns)
        names = ["loss"] + [name for name, _ in metric_fns]
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(names, values)))
        if return_dict:
            return dict(zip(names, values))
        return values[0] if not metric_fns else values

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for x, computed batch by batch in inference mode.

        Args:
            x: numeric array of inputs, shape ``(n, *input_shape)``.
            batch_size: samples per forward pass. Defaults to 32.
            verbose: accepted for Keras' signature; predict prints nothing. Defaults to 0.

        Returns:
            A float32 array of shape ``(n, *output_shape)``.

        Raises:
            ValueError: x without a batch axis, a wrong feature count, or a bad batch_size.
            TypeError: non-numeric x.
        """
        batch_size = self._check_batch_size(batch_size)
        x = _as_inputs(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._check_data(x, None, "predict")
        out = np.empty((len(x),) + self._output_shape(), np.float32)
        mlp = self._fused_mlp(training=False) if x.ndim == 2 else None
        if mlp is not None:
            # Rows are independent, so the whole array goes in one call (processed in blocks).
            mlp.predict(x, out)
            return out
        for start in range(0, len(x), batch_size):
            out[start:start + batch_size] = self._forward(x[start:start + batch_size],
                                                          training=False, logits=False)
        return out

    def __call__(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=max(1, len(np.asarray(x))))

    # ---- weights, summary ----------------------------------------------------------------
    def get_weights(self) -> List[np.ndarray]:
        """Copies of every layer's weights, in order (kernel, bias, kernel, bias, ...)."""
        return [w.copy() for layer in self.layers for w in layer.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets every layer's weights from a list like the one ``get_weights`` returns.

        Args:
            weights: one array per weight, in ``get_weights``' order and shapes; each is
                copied into the model as float32.

        Raises:
            ValueError: a model not built yet, a wrong number of arrays or a wrong shape (both
                named).
        """
        if not self.built:
            raise ValueError("set_weights: the model is not built yet (give the first layer an "
                             "input_shape, or call build/fit first)")
        targets = [w for layer in self.layers for w in layer.weights]
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: the model has {len(targets)} weight arrays; received "
                             f"{len(weights)}")
        for i, (t, w) in enumerate(zip(targets, weights)):
            w = np.asarray(w)
            if w.shape != t.shape:
                raise ValueError(f"set_weights: weight {i} has shape {t.shape}; received {w.shape}")
        for t, w in zip(targets, weights):
            t[...] = np.asarray(w, dtype=np.float32)

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Prints each layer's type, output shape and parameter count, then the totals.

        Args:
            print_fn: called with each line of the table, a str. Defaults to ``print``.
        """
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            shape = "?" if layer.output_shape is None else str((None,) + tuple(layer.output_shape))
            rows.append((f"{layer.name} ({type(layer).__name__})", shape,
                         f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "=" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for k, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)))
            print_fn(line if k == 0 else "-" * sum(widths) if k < len(rows) - 1 else line)
        print_fn(f"Total params: {self.count_params():,}")
        print_fn(f"Trainable params: {self.count_params():,}")
        print_fn("Non-trainable params: 0")

    # ---- saving --------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The model's name and each layer's class and config (what ``save`` stores)."""
        return {"name": self.name,
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers]}

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Saves architecture, weights and compile settings to one file (an npz archive with a
        JSON header; no pickle). Atomic: written to a temporary file in the same folder, then
        renamed over ``path``, so a crash never leaves a half-written model.

        Args:
            path: the file to write, a str or path-like; an existing file is replaced. Any
                extension is kept as given.

        Raises:
            OSError: the folder does not exist or cannot be written.
        """
        config: Dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                                  "model": self.get_config(), "built": self.built}
        if self.built:
            config["input_shape"] = list(self.input_shape[1:])  # type: ignore[index]
        if self.compiled and self.optimizer is not None:
            config["compile"] = {
                "optimizer": {"class_name": type(self.optimizer).__name__,
                              "config": self.optimizer.get_config()},
                "loss": self.loss,
                "metrics": [m for m in self._metric_ids if isinstance(m, str)],
            }
        arrays: Dict[str, Any] = {f"weight_{i}": w for i, w in enumerate(self.get_weights())}
        arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(config).encode("utf-8"), np.uint8)
        path = Path(path)
        folder = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load_model(path: Union[str, os.PathLike[str]], compile: bool = True) -> Sequential:
    """Loads a model written by ``Sequential.save``.

    Args:
        path: the model file, a str or path-like.
        compile: compile the model with the saved optimizer (and its settings), loss and
            string metrics, when it was saved compiled. Defaults to True.

    Returns:
        A ``Sequential`` with the saved layers and weights; the optimizer starts afresh (its
        slots and iteration count are not saved).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is truncated or corrupt, not a fastnn model, or from a newer
            fastnn (a format version this one cannot read).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such model file: {path}")
    try:
        # Our own file object: np.load leaves its handle open when a truncated zip raises.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as archive:
            files = set(archive.files)
            if _CONFIG_KEY not in files:
                raise ValueError(f"{path} is not a fastnn model file (no model header)")
            config = json.loads(bytes(archive[_CONFIG_KEY]).decode("utf-8"))
            weights = [archive[f"weight_{i}"] for i in range(len(files) - 1)]
    except ValueError as e:
        if str(path) in str(e):
            raise
        raise ValueError(f"{path} is not a readable fastnn model file ({e})") from None
    except Exception as e:  # bad zip, truncated member, bad JSON, missing weight_i
        raise ValueError(f"{path} is not a readable fastnn model file "
                         f"({type(e).__name__}: {e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a fastnn model file")
    version = config.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} was saved in model format version {version}, which is newer "
                         f"than this fastnn reads (up to {FORMAT_VERSION}); upgrade fastnn")
    try:
        layers = []
        for spec in config["model"]["layers"]:
            cls = LAYER_CLASSES[spec["class_name"]]
            layers.append(cls(**spec["config"]))
        model = Sequential(layers, name=config["model"].get("name"))
        if config.get("built") and not model.built:
            model.build((None,) + tuple(config["input_shape"]))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: the model description is invalid ({type(e).__name__}: {e})") from None
    if model.built:
        model.set_weights(weights)
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizer=optimizers.get(c["optimizer"]), loss=c["loss"], metrics=c["metrics"])
    return model
