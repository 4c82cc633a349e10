"""compile, fit, evaluate, predict and the ``*_on_batch`` methods, written once for every model:
Sequential, functional and subclassed.

There is one training loop. Each batch runs either as one call of the model's compiled C++
program (``_C.Program``: gather, forward, losses, backward, regularization, update) or op by op:
the model's ``call`` under a GradientTape, then the optimizer. Which one, and why, is decided
when the model, its compile settings or its trainable weights change, and reported by
``execution_plan()`` and ``summary()``; nothing falls back silently.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _C, losses, metrics as metrics_module, ops, optimizers
from .._backend import SparseRows
from .._locks import Lock, WeightsLock, training as training_weights
from ..autograd import GradientTape, Variable
from ..callbacks import History
from ..layers.base import NotCompilable, structure_version
from ..layers.node import KerasTensor, Node, flatten
from ..utils import get_rng
from .callback_list import CallbackList
from .compile_utils import MetricSpec, OutputSpec, Tracker, resolve_outputs
from .data_adapter import Dataset, InputArray, inputs as adapt_inputs, sample_weights, targets
from .program import FlatWeights, ProgramBuilder, activation_code

__all__ = ["Trainer"]

_LOSS_KINDS = {"mean_squared_error": _C.LossKind.mse, "mean_absolute_error": _C.LossKind.mae}
_BUILTIN_OPTIMIZERS = (optimizers.SGD, optimizers.RMSprop, optimizers.Adagrad, optimizers.Adam)


class _Plan:
    """How this model runs now: the compiled program (or None) and, per kind of call ('fit',
    'evaluate', 'predict'), None when it is compiled or the reason it runs op by op."""

    def __init__(self) -> None:
        self.key: Tuple[Any, ...] = ()
        self.program: Any = None
        self.weights: Optional[FlatWeights] = None
        self.outputs: Optional[List[OutputSpec]] = None
        self.metric_kernels: List[Any] = []  # per output: the metric the program counts (or None)
        self.reasons: Dict[str, Optional[str]] = {}
        # A compiled predict of one input and one output: their per-sample shapes.
        self.one_array: Optional[Tuple[Tuple[int, ...], Tuple[int, ...]]] = None
        self._local = threading.local()

    def workspace(self) -> Any:
        """This thread's scratch for the program: threads running it at once never share one."""
        ws = getattr(self._local, "workspace", None)
        if ws is None:
            ws = self._local.workspace = self.program.workspace()
        return ws


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer. "
                         f"Received: batch_size={batch_size!r}")
    return int(batch_size)


def _verbosity(verbose: Any) -> int:
    return 1 if verbose == "auto" else int(verbose)


def _as_2d(a: np.ndarray) -> np.ndarray:
    """(n, ...) as (n, values per sample): a view of a C-contiguous array."""
    return a.reshape(len(a), -1)


def _program_input(a: InputArray) -> Any:
    """A model input as the compiled program takes it: 2-d rows, or a sparse matrix's arrays."""
    return a.kernel_args() if isinstance(a, SparseRows) else _as_2d(a)


def _take(a: InputArray, rows: np.ndarray) -> InputArray:
    return a.take(rows) if isinstance(a, SparseRows) else np.take(a, rows, axis=0)


class Trainer:
    """The training API of every fastnn model (mixed into ``models.Model``)."""

    if TYPE_CHECKING:  # what the Layer half of a Model provides
        built: bool
        name: str

        @property
        def weights(self) -> List[Variable]: ...

        @property
        def trainable_weights(self) -> List[Variable]: ...

        @property
        def non_trainable_weights(self) -> List[Variable]: ...

        @property
        def losses(self) -> List[Any]: ...

        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    compiled = False
    optimizer: Optional[optimizers.Optimizer] = None
    loss: Any = None
    stop_training = False
    history: Optional[History] = None
    _compile_args: Optional[Tuple[Any, Any, Any]] = None
    _run_eagerly = False
    _plan: Optional[_Plan] = None
    _compile_version = 0

    # ---- what a model provides (models.Model implements these) -----------------------------------
    def _input_names(self) -> List[str]:
        raise NotImplementedError

    def _input_shapes(self) -> Optional[List[Tuple[Optional[int], ...]]]:
        raise NotImplementedError

    def _output_names(self) -> List[str]:
        raise NotImplementedError

    def _output_shapes(self) -> List[Tuple[Optional[int], ...]]:
        raise NotImplementedError

    def _build_for(self, xs: List[InputArray]) -> None:
        raise NotImplementedError

    def _graph(self) -> Tuple[List[KerasTensor], List[KerasTensor], List[Node]]:
        raise NotImplementedError

    def _pack_inputs(self, xs: List[Any]) -> Any:
        raise NotImplementedError

    def _unpack_outputs(self, out: Any) -> List[Any]:
        raise NotImplementedError

    def _pack_outputs(self, outs: List[Any]) -> Any:
        raise NotImplementedError

    # ---- compile ---------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, run_eagerly: bool = False) -> None:
        """Configures training, as Keras' ``compile``.

        Args:
            optimizer: name ('rmsprop', 'adam', 'sgd', 'adagrad') or an optimizer instance.
                Defaults to 'rmsprop'.
            loss: a loss name or function for every output, or a list (one per output) or a
                dict by output name (outputs left out have no loss); required.
            loss_weights: the weight of each output's loss in the total, a list or a dict by
                output name. Defaults to None (all 1).
            metrics: names ('accuracy', 'mae', 'mse', ...) or functions ``f(y_true, y_pred)``
                for a model with one output; for several, a list of lists or a dict by output
                name. Defaults to None.
            run_eagerly: run op by op even when the model could run as one C++ program (to
                debug, or to step through ``call``). Defaults to False.

        Raises:
            ValueError: no loss, or an unknown optimizer, loss or metric (the message lists the
                valid ones).
        """
        if loss is None:
            raise ValueError(f"compile needs a loss. Valid losses: {losses.valid_names()}")
        self.optimizer = optimizers.get(optimizer)
        for item in flatten(loss):
            if item is not None:
                losses.get(item)  # unknown names fail now, not at fit
        for item in flatten(metrics):
            if item is not None:
                metrics_module.get(item)
        self.loss = loss
        self._compile_args = (loss, loss_weights, metrics)
        self._run_eagerly = bool(run_eagerly)
        self.compiled = True
        self._compile_version += 1
        self._plan = None

    @property
    def run_eagerly(self) -> bool:
        """Whether every call runs op by op (compile's ``run_eagerly``); settable."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value: bool) -> None:
        self._run_eagerly = bool(value)
        self._plan = None

    def _training(self, what: str) -> Any:
        """Marks this model's weights as trained by this call (RuntimeError if they already
        are: the same model, or one sharing layers with it, training elsewhere)."""
        return training_weights(self.weights, f"{what} of model {self.name!r}")

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}()")

    # ---- the plan --------------------------------------------------------------------------------
    def execution_plan(self) -> Dict[str, str]:
        """How ``fit``, ``evaluate`` and ``predict`` run: 'compiled (one C++ call per batch)' or
        'op by op: <the reason>'. Builds the model's program if it is built and not yet compiled.

        Returns:
            ``{"fit": ..., "evaluate": ..., "predict": ...}`` (fit and evaluate only once the
            model is compiled).

        Raises:
            ValueError: the model is not built yet (its input shape is unknown).
        """
        if not self.built:
            raise ValueError("execution_plan: the model is not built yet (give it an input "
                             "shape, or call fit or predict first)")
        plan = self._current_plan()
        out = {}
        for kind in (("fit", "evaluate", "predict") if self.compiled else ("predict",)):
            reason = plan.reasons[kind]
            out[kind] = ("compiled (one C++ call per batch)" if reason is None
                         else f"op by op: {reason}")
        return out

    def _plan_key(self) -> Tuple[Any, ...]:
        return (structure_version(), id(self.optimizer), self._compile_version, self._run_eagerly)

    def _lock(self, name: str, make: Callable[[], Any]) -> Any:
        """The model's lock called name, made on first use (thread-safe: dict.setdefault)."""
        lock = self.__dict__.get(name)
        return lock if lock is not None else self.__dict__.setdefault(name, make())

    def _weights_lock(self) -> WeightsLock:
        """Orders the op-by-op path's updates with inference (the compiled path has its own)."""
        return self._lock("_weights_rw", WeightsLock)  # type: ignore[no-any-return]

    def _reading(self, plan: _Plan, kind: str) -> Any:
        """What inference holds while it reads the weights: the weights lock when the model's
        ``kind`` call or its training runs op by op (their updates take it), else nothing (the
        program orders its own steps)."""
        op_by_op = plan.reasons.get(kind) is not None or plan.reasons.get("fit") is not None
        return self._weights_lock().reading() if op_by_op else contextlib.nullcontext()

    def _current_plan(self) -> _Plan:
        # One thread at a time decides: making a plan moves the weights into its buffer.
        with self._lock("_plan_lock", lambda: Lock(reentrant=True)):
            plan = self._plan
            if plan is None or plan.key != self._plan_key():
                plan = self._make_plan()
                plan.key = self._plan_key()
                self._plan = plan
            elif plan.weights is not None:
                plan.weights.claim()
            return plan

    def _make_plan(self) -> _Plan:
        plan = _Plan()
        trainable, frozen = self.trainable_weights, self.non_trainable_weights
        if self.compiled:
            assert self.optimizer is not None and self._compile_args is not None
            self.optimizer.build(trainable)
            plan.outputs = resolve_outputs(self._output_names(), self._output_shapes(),
                                           *self._compile_args)
        graph_reason = loss_reason = optimizer_reason = None
        try:
            if self._run_eagerly:
                raise NotCompilable("run_eagerly=True")
            inputs, outputs, nodes = self._graph()
            for t in inputs:
                if None in t.shape[1:]:
                    raise NotCompilable(f"the input {t.name!r} of shape {t.shape} has an axis of "
                                        f"unknown size")
            weights = FlatWeights(trainable, frozen)
            builder = ProgramBuilder(weights)
            for i, t in enumerate(inputs):
                builder.bind(t, builder.input(i, math.prod(t.shape[1:])))  # type: ignore[arg-type]
            for node in nodes:
                if node.inputs:
                    builder.compile_node(node)
            heads, args = builder.finish([builder.value(t) for t in outputs])
        except NotCompilable as e:
            graph_reason = str(e)
        if graph_reason is None:
            specs, loss_reason = self._output_heads(plan, heads, outputs)
            opt_spec = None
            if self.compiled and loss_reason is None:
                if type(self.optimizer) in _BUILTIN_OPTIMIZERS:
                    opt_spec = self.optimizer._program_spec()  # type: ignore[union-attr]
                else:
                    optimizer_reason = (f"the optimizer {type(self.optimizer).__name__} is not one "
                                        f"of fastnn's built-in ones, whose updates the C++ "
                                        f"program runs")
            plan.program = _C.Program(weights.params, weights.grads, args["widths"], args["steps"],
                                      specs, args["regularizers"], opt_spec)
            plan.weights = weights
        plan.reasons = {"predict": graph_reason,
                        "evaluate": graph_reason or loss_reason,
                        "fit": graph_reason or loss_reason or optimizer_reason}
        if graph_reason is None and len(inputs) == 1 and len(outputs) == 1 and \
                None not in outputs[0].shape[1:]:
            plan.one_array = (tuple(inputs[0].shape[1:]),  # type: ignore[arg-type]
                              tuple(outputs[0].shape[1:]))  # type: ignore[arg-type]
        return plan

    def _output_heads(self, plan: _Plan, heads: List[Tuple[int, str]],
                      outputs: List[KerasTensor]) -> Tuple[List[Tuple[Any, ...]], Optional[str]]:
        """Each output's (value, activation, loss, weight, metric) for the program, and why the
        losses cannot run there (None when they can)."""
        plain = [(z, activation_code(act), _C.LossKind.none, 1.0, _C.MetricKind.none)
                 for z, act in heads]
        if plan.outputs is None:
            return plain, None
        specs = []
        plan.metric_kernels = []
        for (z, act), o, t in zip(heads, plan.outputs, outputs):
            kind = _C.LossKind.none
            if o.loss is not None:
                if not isinstance(o.loss, str):
                    return plain, (f"the loss of output '{o.name}' is a custom function "
                                   f"({getattr(o.loss, '__name__', o.loss)})")
                if o.loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
                    if act != "softmax" or len(t.shape) != 2:
                        return plain, (f"{o.loss} on output '{o.name}' (activation '{act}', shape "
                                       f"{t.shape}) has no C++ kernel: it runs fused with a "
                                       f"softmax output of shape (batch, classes)")
                    kind = _C.LossKind.softmax_xent
                elif o.loss == "binary_crossentropy":
                    if act != "sigmoid":
                        return plain, (f"binary_crossentropy on output '{o.name}' (activation "
                                       f"'{act}') has no C++ kernel: it runs fused with a "
                                       f"sigmoid output")
                    kind = _C.LossKind.sigmoid_bce
                else:
                    kind = _LOSS_KINDS[o.loss]
            metric = next((m.kernel for m in o.metrics if m.kernel is not None), None)
            plan.metric_kernels.append(metric)
            specs.append((z, activation_code(act), kind, o.weight,
                          _C.MetricKind.none if metric is None else metric))
        return specs, None

    # ---- data ------------------------------------------------------------------------------------
    def _dataset(self, x: Any, y: Any, sample_weight: Any, class_weight: Any,
                 what: str) -> Dataset:
        xs = adapt_inputs(x, self._input_names(), self._input_shapes() if self.built else None,
                          what)
        if len(xs[0]) == 0:
            raise ValueError(f"{what}: the dataset is empty (0 samples)")
        if not self.built:
            self._build_for(xs)
        self._check_sparse(xs, what)
        plan = self._current_plan()
        assert plan.outputs is not None
        ys = targets(y, plan.outputs, len(xs[0]), what)
        sws = sample_weights(sample_weight, class_weight, plan.outputs, ys, len(xs[0]), what)
        return Dataset(xs, ys, sws)

    def _check_sparse(self, xs: List[InputArray], what: str) -> None:
        """A sparse input must feed Dense layers only (they multiply it in C++). Graphs are
        checked here, before anything runs; a subclassed model's layers check as they run."""
        if not any(isinstance(x, SparseRows) for x in xs):
            return
        try:
            inputs, _, nodes = self._graph()
        except NotCompilable:
            return
        for t, x in zip(inputs, xs):
            if not isinstance(x, SparseRows):
                continue
            for node in nodes:
                layer = node.layer
                if any(u is t for u in node.inputs) and not layer._takes_sparse:
                    raise TypeError(f"{what}: the input {t.name!r} is a sparse matrix, which only "
                                    f"Dense layers take; it feeds layer '{layer.name}' "
                                    f"({type(layer).__name__})")

    # ---- the steps: compiled, or op by op --------------------------------------------------------
    def _step_function(self, data: Dataset, training: bool,
                       tracker: Tracker) -> Callable[[np.ndarray], None]:
        """A function of a batch's row indices that runs it (a training step, or an evaluation
        batch) and adds its results to ``tracker``."""
        plan = self._current_plan()
        assert plan.outputs is not None
        outputs = plan.outputs
        metrics = [o.metrics_for(y) for o, y in zip(outputs, data.y)]
        if plan.reasons["fit" if training else "evaluate"] is None:
            return self._compiled_step(plan, data, training, tracker, metrics)
        return self._op_step(plan, data, training, tracker, metrics)

    def _compiled_step(self, plan: _Plan, data: Dataset, training: bool, tracker: Tracker,
                       metrics: List[List[MetricSpec]]) -> Callable[[np.ndarray], None]:
        program = plan.program
        workspace = plan.workspace()
        assert plan.outputs is not None
        outputs = plan.outputs
        spec: List[Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]] = []
        for o, y, sw in zip(outputs, data.y, data.sample_weight):
            if y is None:
                spec.append((None, None, sw))
            elif o.sparse:
                spec.append((y, None, sw))
            else:
                spec.append((None, _as_2d(y), sw))
        bound = program.data([_program_input(x) for x in data.x], spec)
        stats = np.zeros(2 * len(outputs) + 1, np.float64)
        # Per output: the metric the program counts (the first one it can), the rest in Python.
        counted = [[next(j for j, m in enumerate(ms) if m.kernel is not None)]
                   if k is not None else [] for ms, k in zip(metrics, plan.metric_kernels)]
        python_metrics = [[j for j in range(len(ms)) if j not in done]
                          for ms, done in zip(metrics, counted)]
        sums = [[0.0] * len(ms) for ms in metrics]
        optimizer = self.optimizer
        need_python = any(python_metrics)
        losses_view = stats[0:2 * len(outputs):2]  # a view: the program writes stats in place

        weights = plan.weights
        assert weights is not None

        def step(rows: np.ndarray) -> None:
            weights.claim()  # a callback may have run a model that shares these weights
            if training:
                assert optimizer is not None
                optimizer.iterations += 1
                program.train_step(workspace, bound, rows, optimizer._hyper_values(),
                                   optimizer.iterations, stats)
            else:
                with self._reading(plan, "evaluate"):
                    program.test_step(workspace, bound, rows, stats)
            for i, o in enumerate(outputs):
                for j in counted[i]:
                    sums[i][j] = stats[2 * i + 1]
                if need_python and python_metrics[i]:
                    y_pred = program.predictions(workspace, i).reshape((len(rows),) +
                                                                       tuple(o.shape[1:]))
                    y_true = program.targets(workspace, i)
                    if y_true is not None and y_true.ndim == 2 and not o.sparse:
                        y_true = y_true.reshape(y_pred.shape)
                    for j in python_metrics[i]:
                        values = metrics[i][j].fn(y_true, y_pred)
                        sums[i][j] = float(np.sum(values, dtype=np.float64))
            tracker.add(len(rows), losses_view, sums, stats[-1])
        return step

    def _op_step(self, plan: _Plan, data: Dataset, training: bool, tracker: Tracker,
                 metrics: List[List[MetricSpec]]) -> Callable[[np.ndarray], None]:
        assert plan.outputs is not None
        outputs = plan.outputs
        optimizer = self.optimizer
        weights_lock = self._weights_lock()

        def take(arrays: Sequence[Optional[InputArray]], rows: np.ndarray) -> List[Any]:
            return [None if a is None else _take(a, rows) for a in arrays]

        def step(rows: np.ndarray) -> None:
            xs = take(data.x, rows)
            ys = take(data.y, rows)
            sws = take(data.sample_weight, rows)
            if training:
                trainable = self.trainable_weights
                with GradientTape() as tape:
                    preds = self._unpack_outputs(self(self._pack_inputs(xs), training=True))
                    total, loss_sums, penalty = self._losses(outputs, preds, ys, sws, len(rows))
                grads = tape.gradient(total, trainable) if trainable else []
                assert optimizer is not None
                with weights_lock.writing():  # inference in other threads sees whole steps
                    optimizer.apply(grads, trainable)
            else:
                with weights_lock.reading():
                    preds = self._unpack_outputs(self(self._pack_inputs(xs), training=False))
                _, loss_sums, penalty = self._losses(outputs, preds, ys, sws, len(rows))
            values = [np.asarray(p) for p in preds]
            sums = [[0.0 if y is None else float(np.sum(m.fn(y, p), dtype=np.float64))
                     for m in ms] for ms, y, p in zip(metrics, ys, values)]
            tracker.add(len(rows), loss_sums, sums, penalty)
        return step

    def _losses(self, outputs: List[OutputSpec], preds: List[Any], ys: List[Optional[np.ndarray]],
                sws: List[Optional[np.ndarray]], rows: int) -> Tuple[Any, List[float], float]:
        """(total loss, each output's summed weighted loss, the penalty) of one batch: Keras'
        "sum over batch size" per output, weighted, plus the regularization penalties."""
        total: Any = None
        sums = []
        for o, p, y, sw in zip(outputs, preds, ys, sws):
            if o.loss is None:
                sums.append(0.0)
                continue
            per = o.loss_fn(y, p)  # type: ignore[misc]
            if sw is not None:
                per = ops.multiply(per, sw.reshape((-1,) + (1,) * (np.ndim(per) - 1)))
            mean = ops.multiply(ops.sum(per), 1.0 / max(1, int(np.size(per))))
            sums.append(float(mean) * rows)
            term = mean if o.weight == 1.0 else ops.multiply(mean, o.weight)
            total = term if total is None else ops.add(total, term)
        penalties = self.losses
        for term in penalties:
            total = ops.add(total, term)
        return total, sums, float(sum(float(t) for t in penalties))

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: Optional[Sequence[Any]] = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: Optional[Dict[Any, float]] = None, sample_weight: Any = None,
            initial_epoch: int = 0, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1) -> History:
        """Trains the model for ``epochs`` epochs of mini-batch gradient descent.

        Args:
            x: the inputs: an array, a list of arrays (one per model input) or a dict by input
                name; shape ``(n, *input_shape)`` each.
            y: the targets, likewise per output: integer labels (n,) for sparse categorical
                cross-entropy, one-hot rows for categorical cross-entropy, else
                ``(n, *output_shape)`` ((n,) for an output of width 1).
            batch_size: samples per gradient step; the last batch may be smaller. Defaults to
                None, which is 32.
            epochs: the epoch to end at: training runs ``epochs - initial_epoch`` epochs.
                Defaults to 1.
            verbose: 0 silent, 1 (or 'auto', the default) a progress bar per epoch, 2 one line
                per epoch.
            callbacks: ``fastnn.callbacks.Callback`` instances. Defaults to None.
            validation_split: fraction in [0, 1) of the samples held out for validation: the
                last ones, before shuffling. Ignored when ``validation_data`` is given.
                Defaults to 0.0.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``,
                evaluated after each epoch. Defaults to None.
            shuffle: shuffle the training samples before each epoch. Defaults to True.
            class_weight: ``{class: weight}`` multiplying each sample's loss (one output only).
                Defaults to None.
            sample_weight: per-sample loss weights, (n,) (or one array per output). Defaults
                to None.
            initial_epoch: the epoch to start from (0-based), to resume training. Defaults to 0.
            validation_batch_size: the batch size of the validation. Defaults to None
                (``batch_size``).
            validation_freq: validate every this many epochs. Defaults to 1.

        Returns:
            A History whose ``history`` maps 'loss', each metric and their 'val_' twins to
            per-epoch lists (per-output names too for several outputs, as Keras names them).

        Raises:
            RuntimeError: fit before compile, or while these weights are being trained by
                another call (fit or train_on_batch in another thread, or an enclosing fit):
                one training call at a time per set of weights, while any number of threads
                may predict and evaluate meanwhile (each sees the weights of a whole step).
            ValueError: mismatched or empty data, a wrong input shape, bad labels, bad
                batch_size or validation_split.
            TypeError: non-numeric data.
        """
        self._require_compiled("fit")
        with self._training("fit"):
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                             validation_data, shuffle, class_weight, sample_weight,
                             initial_epoch, validation_batch_size, validation_freq)

    def _fit(self, x: Any, y: Any, batch_size: Optional[int], epochs: int, verbose: Any,
             callbacks: Optional[Sequence[Any]], validation_split: float, validation_data: Any,
             shuffle: bool, class_weight: Optional[Dict[Any, float]], sample_weight: Any,
             initial_epoch: int, validation_batch_size: Optional[int],
             validation_freq: int) -> History:
        batch_size = _check_batch_size(batch_size)
        verbose = _verbosity(verbose)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1). Received: {validation_split}")
        data = self._dataset(x, y, sample_weight, class_weight, "fit")
        val: Optional[Dataset] = None
        if validation_data is not None:
            vx, vy, *vsw = validation_data
            val = self._dataset(vx, vy, vsw[0] if vsw else None, None, "fit (validation data)")
        elif validation_split > 0.0:
            data, val = data.split(validation_split)
        n = data.n
        steps = math.ceil(n / batch_size)
        plan = self._current_plan()
        assert plan.outputs is not None
        tracker = Tracker(plan.outputs)
        train_step = self._step_function(data, True, tracker)
        cbs = CallbackList(callbacks, self, verbose, epochs, steps, add_history=True)
        want_begin = bool(cbs._by_hook["on_train_batch_begin"])
        want_end = bool(cbs._by_hook["on_train_batch_end"])
        rng = get_rng()
        self.stop_training = False
        cbs.on_train_begin()
        logs: Dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else np.arange(n)
            tracker.reset()
            for step in range(steps):
                if want_begin:
                    cbs.on_train_batch_begin(step)
                train_step(order[step * batch_size:(step + 1) * batch_size])
                if want_end:
                    cbs.on_train_batch_end(step, tracker.logs())  # a NaN loss makes the mean NaN
                if self.stop_training:
                    break
            logs = tracker.logs()
            if val is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                cbs.on_test_begin()
                values = self._evaluate_dataset(val, validation_batch_size or batch_size,
                                                cbs if cbs.wants_batches("test") else None)
                cbs.on_test_end(values)
                logs.update({"val_" + k: v for k, v in values.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs or None)
        assert cbs.history is not None
        self.history = cbs.history
        return cbs.history

    # ---- evaluate --------------------------------------------------------------------------------
    def _evaluate_dataset(self, data: Dataset, batch_size: int,
                          cbs: Optional[CallbackList]) -> Dict[str, float]:
        plan = self._current_plan()
        assert plan.outputs is not None
        tracker = Tracker(plan.outputs)
        test_step = self._step_function(data, False, tracker)
        rows = np.arange(data.n, dtype=np.int64)
        for b, start in enumerate(range(0, data.n, batch_size)):
            if cbs is not None:
                cbs.on_test_batch_begin(b)
            test_step(rows[start:start + batch_size])
            if cbs is not None:
                cbs.on_test_batch_end(b, tracker.logs())
        return tracker.logs()

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Any = "auto", sample_weight: Any = None,
                 callbacks: Optional[Sequence[Any]] = None,
                 return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """The loss (and metrics) on the given data, in inference mode.

        Args:
            x: the inputs, as for ``fit``.
            y: the targets, as for ``fit``.
            batch_size: samples per batch. Defaults to None, which is 32.
            verbose: 1 (or 'auto', the default) prints the results on one line, 0 nothing.
            sample_weight: per-sample loss weights, as for ``fit``. Defaults to None.
            callbacks: callbacks whose test hooks run. Defaults to None.
            return_dict: return ``{name: value}`` instead. Defaults to False.

        Returns:
            The loss, or ``[loss, *per-output losses, *metrics]`` when there is more than the
            loss (a dict with ``return_dict=True``), as plain Python floats. The loss includes
            the regularization penalties.

        Raises:
            RuntimeError: evaluate before compile.
            ValueError: mismatched or empty data, a wrong input shape, bad labels or a bad
                batch_size.
            TypeError: non-numeric data.
        """
        self._require_compiled("evaluate")
        batch_size = _check_batch_size(batch_size)
        data = self._dataset(x, y, sample_weight, None, "evaluate")
        cbs = CallbackList(callbacks, self, 0, 1, math.ceil(data.n / batch_size))
        cbs.on_test_begin()
        logs = self._evaluate_dataset(data, batch_size, cbs if cbs.wants_batches("test") else None)
        cbs.on_test_end(logs)
        if _verbosity(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._results(logs, return_dict)

    @staticmethod
    def _results(logs: Dict[str, float],
                 return_dict: bool) -> Union[float, List[float], Dict[str, float]]:
        values = {k: float(v) for k, v in logs.items()}
        if return_dict:
            return values
        return values["loss"] if len(values) == 1 else list(values.values())

    # ---- predict ---------------------------------------------------------------------------------
    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Any = "auto",
                callbacks: Optional[Sequence[Any]] = None) -> Any:
        """The model's outputs for x, in inference mode.

        A compiled model computes every row in one C++ call (in blocks that stay in cache);
        ``batch_size`` then only matters to callbacks with predict batch hooks.

        Args:
            x: the inputs, as for ``fit``.
            batch_size: samples per batch when the model runs op by op. Defaults to None (32).
            verbose: accepted for Keras' signature; predict prints nothing.
            callbacks: callbacks whose predict hooks run. Defaults to None.

        Returns:
            A float32 array of shape ``(n, *output_shape)``, or a list / dict of them for a
            model with several outputs.

        Raises:
            ValueError: x without a batch axis, a wrong input shape, or a bad batch_size.
            TypeError: non-numeric x.
        """
        batch_size = _check_batch_size(batch_size)
        if callbacks is None and type(x) is np.ndarray:
            out = self._predict_one_array(x)
            if out is not None:
                return out
        xs = adapt_inputs(x, self._input_names(), self._input_shapes() if self.built else None,
                          "predict")
        if not self.built:
            self._build_for(xs)
        self._check_sparse(xs, "predict")
        n = len(xs[0])
        cbs = CallbackList(callbacks, self, 0, 1, math.ceil(n / batch_size)) if callbacks else None
        if cbs is not None:
            cbs.on_predict_begin()
        plan = self._current_plan()
        batched = cbs is not None and cbs.wants_batches("predict")
        shapes = self._output_shapes()
        outs = [np.empty((n,) + tuple(int(d or 0) for d in s[1:]) if None not in s[1:] else (0,),
                         np.float32) for s in shapes]
        if plan.reasons["predict"] is None:
            step = batch_size if batched else max(1, n)
            for b, start in enumerate(range(0, n, step)):
                if batched:
                    assert cbs is not None and plan.weights is not None
                    cbs.on_predict_batch_begin(b)
                    plan.weights.claim()  # the callback may have run a model sharing them
                with self._reading(plan, "predict"):
                    plan.program.predict(plan.workspace(),
                                         [_program_input(a[start:start + step]) for a in xs],
                                         [_as_2d(o[start:start + step]) for o in outs])
                if batched:
                    assert cbs is not None
                    cbs.on_predict_batch_end(b)
        else:
            parts: List[List[np.ndarray]] = [[] for _ in shapes]
            with self._reading(plan, "predict"):  # every batch from the same weights
                for b, start in enumerate(range(0, n, batch_size)):
                    if batched:
                        assert cbs is not None
                        cbs.on_predict_batch_begin(b)
                    batch = [a[start:start + batch_size] for a in xs]
                    out = self._unpack_outputs(self(self._pack_inputs(batch), training=False))
                    for i, o in enumerate(out):
                        parts[i].append(np.asarray(o, dtype=np.float32))
                    if batched:
                        assert cbs is not None
                        cbs.on_predict_batch_end(b)
            outs = [np.concatenate(p) if p else np.zeros((0,), np.float32) for p in parts]
        if cbs is not None:
            cbs.on_predict_end()
        return self._pack_outputs(outs)

    # ---- one batch -------------------------------------------------------------------------------
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Optional[Dict[Any, float]] = None,
                       return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """One optimizer step on the whole batch given.

        Args:
            x: the batch's inputs, as for ``fit``.
            y: its targets, as for ``fit``.
            sample_weight: per-sample loss weights. Defaults to None.
            class_weight: ``{class: weight}``. Defaults to None.
            return_dict: return ``{name: value}``. Defaults to False.

        Returns:
            The batch's loss (computed before the update), or ``[loss, *metrics]``, or a dict:
            plain Python floats.

        Raises:
            RuntimeError: before compile, or while another call trains these weights (as
                ``fit``).
            ValueError, TypeError: as ``fit``.
        """
        self._require_compiled("train_on_batch")
        with self._training("train_on_batch"):
            data = self._dataset(x, y, sample_weight, class_weight, "train_on_batch")
            return self._one_batch(data, True, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """The loss (and metrics) of one batch, in inference mode.

        Args:
            x: the batch's inputs, as for ``fit``.
            y: its targets, as for ``fit``.
            sample_weight: per-sample loss weights. Defaults to None.
            return_dict: return ``{name: value}``. Defaults to False.

        Returns:
            The loss, or ``[loss, *metrics]``, or a dict: plain Python floats.

        Raises:
            RuntimeError: before compile.
            ValueError, TypeError: as ``evaluate``.
        """
        self._require_compiled("test_on_batch")
        data = self._dataset(x, y, sample_weight, None, "test_on_batch")
        return self._one_batch(data, False, return_dict)

    def _one_batch(self, data: Dataset, training: bool,
                   return_dict: bool) -> Union[float, List[float], Dict[str, float]]:
        plan = self._current_plan()
        assert plan.outputs is not None
        tracker = Tracker(plan.outputs)
        self._step_function(data, training, tracker)(np.arange(data.n, dtype=np.int64))
        return self._results(tracker.logs(), return_dict)

    def _predict_one_array(self, x: np.ndarray) -> Any:
        """``predict`` of the commonest call: a float32 C-contiguous array of the input's shape,
        for a model of one input and one output whose compiled plan is current. Every check of
        the general path comes down to these few, so that a call on one row costs little more
        than its arithmetic. None when the general path must run."""
        plan = self._plan
        lock = self.__dict__.get("_plan_lock")
        if plan is None or plan.one_array is None or lock is None or \
                x.dtype != np.float32 or not x.flags.c_contiguous or \
                x.shape[1:] != plan.one_array[0] or not len(x) or \
                plan.reasons["fit"] is not None:  # op-by-op updates: the general path's lock
            return None
        with lock:
            if plan is not self._plan or plan.key != self._plan_key():
                return None
            if plan.weights is not None:
                plan.weights.claim()
        n = len(x)
        out = np.empty((n,) + plan.one_array[1], np.float32)
        plan.program.predict(plan.workspace(), [x.reshape(n, -1)], [out.reshape(n, -1)])
        return self._pack_outputs([out])

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for one batch, in inference mode (``predict`` in one piece).

        Args:
            x: the inputs, as for ``predict``.

        Returns:
            As ``predict``.
        """
        xs = adapt_inputs(x, self._input_names(), self._input_shapes() if self.built else None,
                          "predict_on_batch")
        return self.predict(self._pack_inputs(xs) if len(xs) > 1 else xs[0],
                            batch_size=max(1, len(xs[0])))
