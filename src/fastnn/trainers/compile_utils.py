"""What ``compile`` configures, resolved against a model's outputs: a loss, a loss weight and
metrics per output, and the running means that become the logs (Keras' names: 'loss',
'<output>_loss' when several outputs have losses, '<metric>' or '<output>_<metric>')."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _C, losses, metrics as metrics_module

__all__ = ["OutputSpec", "MetricSpec", "resolve_outputs", "Tracker"]

# Metrics the compiled program counts itself.
_KERNEL_METRICS = {metrics_module.categorical_accuracy: _C.MetricKind.categorical_accuracy,
                   metrics_module.sparse_categorical_accuracy: _C.MetricKind.categorical_accuracy,
                   metrics_module.binary_accuracy: _C.MetricKind.binary_accuracy}


class MetricSpec:
    """One metric of one output: its name in the logs, its function ``f(y_true, y_pred)`` (one
    value per sample) and, for the accuracies, the program's code."""

    __slots__ = ("name", "identifier", "fn", "kernel")

    def __init__(self, name: str, identifier: Any, fn: Callable[..., Any]) -> None:
        self.name = name
        self.identifier = identifier
        self.fn = fn
        self.kernel = _KERNEL_METRICS.get(fn)


class OutputSpec:
    """One model output as compiled: its name, per-sample shape, loss (a canonical name, a
    callable, or None), loss weight and metrics."""

    def __init__(self, name: str, shape: Tuple[Optional[int], ...], loss: Any, weight: float,
                 metric_ids: Sequence[Any]) -> None:
        self.name = name
        self.shape = shape
        self.loss = loss
        self.weight = float(weight)
        self.metric_ids = list(metric_ids)
        # Their names and the program's kernels; a dataset's own are metrics_for(its targets).
        self.metrics: List[MetricSpec] = self.metrics_for(None)

    @property
    def width(self) -> int:
        """The number of values per sample (1 when unknown)."""
        n = 1
        for d in self.shape:
            n *= d or 1
        return n

    @property
    def loss_fn(self) -> Optional[Callable[..., Any]]:
        """The loss function (None: this output has no loss)."""
        if self.loss is None:
            return None
        return losses.get_function(self.loss)

    @property
    def sparse(self) -> bool:
        """Whether the targets are integer class indices."""
        return bool(self.loss == "sparse_categorical_crossentropy")

    def metrics_for(self, y: Optional[np.ndarray]) -> List[MetricSpec]:
        """Each metric with its function, 'accuracy' chosen as Keras does: from the loss, the
        output's width and the shape of the targets ``y``. A new list per call: threads
        evaluating different data at once each have their own."""
        specs = []
        loss_name = self.loss if isinstance(self.loss, str) else None
        for m in self.metric_ids:
            name, fn = metrics_module.get(m, loss_name, self.width)
            if y is not None:
                fn = metrics_module.resolve_accuracy(fn, y, self.width)
            specs.append(MetricSpec(name, m, fn))
        return specs


def _per_output(value: Any, names: List[str], what: str, default: Any) -> List[Any]:
    """``value`` (one for all, a list in output order, or a dict by output name) per output."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} names outputs {unknown} that the model does not "
                             f"have; its outputs are {names}")
        return [value.get(n, default) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: {what} is a list of {len(value)} for a model with "
                             f"{len(names)} outputs ({', '.join(names)}); give one per output, or "
                             f"a dict by output name")
        return list(value)
    return [value] * len(names)


def resolve_outputs(names: List[str], shapes: List[Tuple[Optional[int], ...]], loss: Any,
                    loss_weights: Any, metrics: Any) -> List[OutputSpec]:
    """The per-output configuration of ``compile(loss, loss_weights, metrics)``.

    Raises:
        ValueError: lists of the wrong length, dicts naming outputs that do not exist, or a flat
            metrics list for a model with several outputs (ambiguous, as in Keras).
    """
    multi = len(names) > 1
    loss_list = _per_output(loss, names, "loss", None)
    weights = _per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights", 1.0)
    if metrics is None:
        metric_lists: List[Any] = [[] for _ in names]
    elif isinstance(metrics, dict):
        metric_lists = _per_output(metrics, names, "metrics", [])
    elif not multi:
        metric_lists = [list(metrics)]
    elif isinstance(metrics, (list, tuple)) and len(metrics) == len(names) and \
            all(isinstance(m, (list, tuple)) or m is None for m in metrics):
        metric_lists = [list(m or []) for m in metrics]
    else:
        raise ValueError(f"compile: for a model with {len(names)} outputs ({', '.join(names)}), "
                         f"metrics must be a list of lists (one per output) or a dict by output "
                         f"name; received {metrics!r}")
    out = []
    for name, shape, fn, w, ms in zip(names, shapes, loss_list, weights, metric_lists):
        ms = [ms] if isinstance(ms, str) or callable(ms) else list(ms)
        out.append(OutputSpec(name, shape, None if fn is None else losses.get(fn), w, ms))
    if all(o.loss is None for o in out):
        raise ValueError(f"compile: no output has a loss. Valid losses: {losses.valid_names()}")
    return out


class Tracker:
    """Running means over an epoch's (or an evaluation's) batches, weighted by batch size:
    the total loss, each output's loss and each metric; ``logs()`` names them as Keras does.

    Args:
        outputs: the compiled outputs.
    """

    def __init__(self, outputs: List[OutputSpec]) -> None:
        self.outputs = outputs
        with_loss = [o for o in outputs if o.loss is not None]
        self._output_losses = len(with_loss) > 1
        multi = len(outputs) > 1
        self.names = ["loss"]
        if self._output_losses:
            self.names += [f"{o.name}_loss" for o in with_loss]
        for o in outputs:
            self.names += [f"{o.name}_{m.name}" if multi else m.name for m in o.metrics]
        self.reset()

    def reset(self) -> None:
        """Starts the means afresh."""
        self.seen = 0
        self.total = 0.0
        self.loss_sums = [0.0] * len(self.outputs)
        self.metric_sums = [[0.0] * len(o.metrics) for o in self.outputs]

    def add(self, rows: int, loss_sums: Any, metric_sums: Sequence[Sequence[float]],
            penalty: float) -> None:
        """Adds one batch: its row count, each output's summed weighted loss, each metric's sum
        and the regularization penalty."""
        self.seen += rows
        batch = rows * penalty
        for i, (o, s) in enumerate(zip(self.outputs, loss_sums)):
            if o.loss is not None:
                batch += o.weight * s
                self.loss_sums[i] += s
            for j, m in enumerate(metric_sums[i]):
                self.metric_sums[i][j] += m
        self.total += batch

    def values(self) -> List[float]:
        """The means, in ``names``' order."""
        n = max(1, self.seen)
        out = [float(self.total) / n]
        if self._output_losses:
            out += [float(s) / n for o, s in zip(self.outputs, self.loss_sums)
                    if o.loss is not None]
        for sums in self.metric_sums:
            out += [float(s) / n for s in sums]
        return out

    def logs(self) -> Dict[str, float]:
        """``{name: mean}`` in Keras' order."""
        return dict(zip(self.names, self.values()))
