"""Keras 3's native ``.keras`` files, read and written for the layers and models fastnn has.

A ``.keras`` file is a zip of three members, as Keras 3 writes them (checked against Keras 3.15.1):

- ``metadata.json``: ``{"keras_version": ..., "date_saved": "YYYY-mm-dd@HH:MM:SS"}``;
- ``config.json``: the model as ``serialize_keras_object`` gives it, every object a dict of
  ``module``, ``class_name``, ``config`` and ``registered_name`` (layers also ``build_config``,
  the model ``compile_config``); a functional model's layers carry their ``inbound_nodes``,
  whose arguments are ``__keras_tensor__`` dicts naming ``[layer, call, output]``;
- ``model.weights.h5``: each layer's weights as datasets ``0``, ``1``, ... of a group
  ``layers/<name>/vars``, where <name> is not the layer's name but its class in snake case,
  numbered in the order of ``model.layers`` (``dense``, ``dense_1``, ...; a nested model's
  layers under ``layers/<its name>/layers/...``), and the optimizer's variables under
  ``optimizer/vars`` (iterations, learning rate, then its slots).

The layer order is Keras': Sequential's layers as added; a functional model's by decreasing depth,
ties in the order of a depth-first walk from the outputs (``keras.src.ops.function.map_graph``),
which fastnn's own order (ties by creation) need not match: weights go by that order, so it is
computed here, the same way for saving and loading.

A file may come from anyone: only a regular file is opened; the zip's members are checked before
any is read (stored or deflated only, declared sizes within what their bytes can hold); the JSON
is at most 64 MB; the weights are made as zeros, never more bytes of them than the weights file
holds, then filled from datasets checked first (a hard link to a plain dataset, no filters, no
external or virtual storage, integers or floats, the shape the layer made); every problem is a
ValueError naming the file. h5py parses the HDF5 file itself.

h5py is optional (``pip install "fastnn[keras-format]"``); it is imported by the two functions
only.
"""

from __future__ import annotations

import datetime
import importlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Callable, Union

import numpy as np

from .. import __version__ as fastnn_version
from .. import regularizers
from .._safe_read import Npz, check_shape, fill
from ..autograd import Variable
from ..layers import (
    Activation,
    Add,
    Average,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    InputLayer,
    Multiply,
    Reshape,
    Subtract,
)
from ..layers.base import WEIGHT_KINDS, Layer, weights_from_file
from ..layers.node import KerasTensor, Node
from ..optimizers import SGD, Adagrad, Adam, RMSprop
from .functional import Functional
from .saving import (KERAS_FORMAT, MODEL_CLASSES, _compile, _names, open_model_file,
                     write_atomically)
from .sequential import Sequential

__all__ = ["load_keras", "save_keras"]

PathArg = Union[str, "os.PathLike[str]"]

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
# The Keras release whose files these are (metadata.json); Keras does not read it back.
KERAS_VERSION = "3.15.1"
# A model description is a few kB per layer: 64 MB of JSON is not one (as saving's header).
_MAX_JSON = 64 << 20
_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
           "registered_name": None}
_ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")
_LAYERS = {cls.__name__: cls for cls in (InputLayer, Dense, Activation, Dropout, Add, Subtract,
                                         Multiply, Average, Concatenate, Flatten, Reshape)}
_MERGES = ("Add", "Subtract", "Multiply", "Average")
# fastnn's initializers and Keras' classes for them, with the settings fastnn's use (a Keras
# initializer with other settings is kept as it is, see _KerasInitializer).
_INITIALIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "glorot_uniform": ("GlorotUniform", {}), "glorot_normal": ("GlorotNormal", {}),
    "he_uniform": ("HeUniform", {}), "he_normal": ("HeNormal", {}),
    "lecun_uniform": ("LecunUniform", {}), "zeros": ("Zeros", {}), "ones": ("Ones", {}),
    "random_normal": ("RandomNormal", {"mean": 0.0, "stddev": 0.05}),
    "random_uniform": ("RandomUniform", {"minval": -0.05, "maxval": 0.05})}
_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, RMSprop, Adagrad, Adam)}
# Keras' optimizer variables after iterations and learning rate, per class: fastnn's slots of the
# same meaning, each a list over the trainable variables; Adam interleaves its two lists
# (add_optimizer_variables with two names), the others put one list after the other. A slot
# fastnn does not make (no momentum) is one Keras does not make either.
_SLOTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "SGD": (("velocity",), False), "RMSprop": (("velocity", "momentum_buffer"), False),
    "Adagrad": (("accumulator",), False), "Adam": (("m", "v"), True)}
# Keras' optimizer settings that fastnn does not have, and the value at which they do nothing.
_NEUTRAL_OPTIMIZER = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                      "clipvalue": None, "use_ema": False, "loss_scale_factor": None,
                      "gradient_accumulation_steps": None, "centered": False, "amsgrad": False}
# Keras' loss and metric classes that are fastnn's functions, at their default settings.
_LOSS_CLASSES = {"CategoricalCrossentropy": "categorical_crossentropy",
                 "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
                 "BinaryCrossentropy": "binary_crossentropy",
                 "MeanSquaredError": "mean_squared_error",
                 "MeanAbsoluteError": "mean_absolute_error"}
_METRIC_CLASSES = {"CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
                   "BinaryAccuracy": "binary_accuracy", "MeanSquaredError": "mean_squared_error",
                   "MeanAbsoluteError": "mean_absolute_error"}


def _h5py() -> Any:
    """h5py, which only this format needs."""
    try:
        return importlib.import_module("h5py")
    except ImportError:
        raise ImportError('Keras\' .keras files need h5py: pip install "fastnn[keras-format]"'
                          ) from None


def _snake(name: str) -> str:
    """Keras' ``naming.to_snake_case``, which names the weights' groups ('InputLayer' ->
    'input_layer'); it differs from fastnn's layer names on digits, so it is Keras' own here."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ---- Keras' layer order ----------------------------------------------------------------------

def _keras_tree(structure: Any) -> list[Any]:
    """The leaves of a structure in Keras' order (``tree.flatten``: a dict's keys sorted)."""
    if isinstance(structure, dict):
        return [v for k in sorted(structure) for v in _keras_tree(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [v for item in structure for v in _keras_tree(item)]
    return [structure]


def _graph_order(model: Functional) -> list[Layer]:
    """The layers of a functional model in Keras' order (``map_graph``): by decreasing depth, a
    node's depth being its longest distance to an output and a layer's the largest of its nodes';
    ties in the order a depth-first walk from the outputs first meets the layers."""
    finished: set[int] = set()
    post_order: list[Node] = []
    first_seen: dict[int, int] = {}
    stack: list[tuple[Node, Iterator[KerasTensor]]] = []

    def enter(t: KerasTensor) -> None:
        node = t._node
        assert node is not None
        if id(node) not in finished:
            first_seen.setdefault(id(node.layer), len(first_seen))  # pre-order, as Keras
            stack.append((node, iter(node.inputs)))
    for output in _keras_tree(model.output):
        enter(output)
        while stack:  # Keras recurses; a loop takes graphs of any depth
            node, inputs = stack[-1]
            nxt = next(inputs, None)
            if nxt is not None:
                enter(nxt)
                continue
            stack.pop()
            if id(node) not in finished:
                finished.add(id(node))
                post_order.append(node)
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for parent in node.parents:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in model.inputs:  # an input no output needs: depth 0, first
        assert t._node is not None
        if id(t._node.layer) not in layer_depth:
            layer_depth[id(t._node.layer)] = 0
            first_seen[id(t._node.layer)] = -1
            layers[id(t._node.layer)] = t._node.layer
    return [layers[k] for k in sorted(layers, key=lambda k: (-layer_depth[k], first_seen[k]))]


def _keras_layers(model: Any) -> list[Layer]:
    """model.layers as Keras lists them: Sequential's without its Input, a functional model's in
    Keras' graph order (its Inputs included)."""
    return model.layers if isinstance(model, Sequential) else _graph_order(model)


def _weight_groups(model: Any, prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """(group path, layer) for the model and every layer in it, as Keras names the groups of
    model.weights.h5 ('' for the model, 'layers/dense', 'layers/sequential/layers/dense')."""
    yield prefix, model
    used: dict[str, int] = {}
    for layer in _keras_layers(model):
        name = _snake(type(layer).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        path = f"{prefix}/layers/{name}" if prefix else f"layers/{name}"
        if isinstance(layer, Functional):
            yield from _weight_groups(layer, path)
        else:
            yield path, layer


# ---- saving ----------------------------------------------------------------------------------

def save_keras(model: Any, filepath: PathArg) -> None:
    """Saves a Sequential or functional model as a Keras 3 ``.keras`` file, which
    ``keras.models.load_model`` loads: architecture, weights, compile settings and the
    optimizer's state (its slots for the model's trainable weights, or fresh ones).

    The file is written atomically, as ``model.save`` writes fastnn's: to a temporary file in
    the same folder, synced, then renamed over the target, whose permission bits it keeps.

    Args:
        model: a Sequential or functional model of fastnn's layers (InputLayer, Dense,
            Activation, Dropout, Add, Subtract, Multiply, Average, Concatenate, Flatten,
            Reshape; nested Sequential and functional models).
        filepath: the file to write; its name must end in ``.keras`` (Keras loads no other).

    Raises:
        ImportError: h5py is not installed.
        ValueError: another extension, or a setting Keras' format cannot state (a custom
            layer, activation, initializer, regularizer or optimizer); the message names it.
        NotImplementedError: a subclassed model (its ``call`` is code).
        OSError: the folder does not exist or cannot be written.
    """
    h5py = _h5py()
    path = Path(filepath)
    if not str(path).endswith(".keras"):
        raise ValueError(f"{os.fspath(filepath)}: Keras loads a model file only from a name "
                         f"ending in .keras")
    if type(model) not in (Sequential, Functional):
        raise NotImplementedError(f"{type(model).__name__} is not a Sequential or functional "
                                  f"model; Keras' format describes those only")
    config = _model_entry(model)
    if model.compiled and model.optimizer is not None and model._compile_args is not None:
        config["compile_config"] = _compile_config(model)
    metadata = {"keras_version": KERAS_VERSION, "fastnn_version": fastnn_version,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        _write_weights(h5, model)

    def write(f: IO[bytes]) -> None:
        # Stored, as Keras writes them: the weights are read without inflating.
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, json.dumps(metadata))
            archive.writestr(_CONFIG, json.dumps(config))
            archive.writestr(_WEIGHTS, weights.getvalue())
    write_atomically(path, write)


def _what(layer: Layer) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__})"


def _shape(shape: Any) -> Any:
    """A shape (or a list of them) as JSON lists."""
    if isinstance(shape, tuple):
        return list(shape)
    return [_shape(s) for s in shape]


def _activation(layer: Layer, act: Any) -> str:
    if not isinstance(act, str) or act not in _ACTIVATIONS:
        raise ValueError(f"{_what(layer)} has a custom activation {act!r:.100}; Keras' format "
                         f"names activations, and Keras has fastnn's: {', '.join(_ACTIVATIONS)}")
    return act


def _initializer(layer: Layer, key: str) -> Any:
    value = getattr(layer, key)
    if isinstance(value, _KerasInitializer):
        return value.entry
    if isinstance(value, str) and value in _INITIALIZERS:
        cls, settings = _INITIALIZERS[value]
        return {"module": "keras.initializers", "class_name": cls,
                "config": {**settings, "seed": None} if cls not in ("Zeros", "Ones") else {},
                "registered_name": None}
    raise ValueError(f"{_what(layer)} has a custom {key} {value!r:.100}; Keras' format names "
                     f"initializers, and fastnn's are {', '.join(_INITIALIZERS)}")


def _regularizer(layer: Layer, key: str) -> dict[str, Any] | None:
    reg = getattr(layer, key)
    if reg is None:
        return None
    if type(reg) is not regularizers.L1L2:
        raise ValueError(f"{_what(layer)} has a custom {key} ({type(reg).__name__}); Keras' "
                         f"format stores fastnn's L1L2 (l1, l2, l1_l2) only")
    # Keras' own classes for one factor, as keras.regularizers.l2(...) saves.
    if reg.l1 and not reg.l2:
        cls, config = "L1", {"l1": reg.l1}
    elif reg.l2 and not reg.l1:
        cls, config = "L2", {"l2": reg.l2}
    else:
        cls, config = "L1L2", {"l1": reg.l1, "l2": reg.l2}
    return {"module": "keras.regularizers", "class_name": cls, "config": config,
            "registered_name": None}


def _layer_config(layer: Layer) -> dict[str, Any]:
    """The Keras config of one of fastnn's layers."""
    cls = type(layer).__name__
    if isinstance(layer, InputLayer):
        return {"batch_shape": list(layer.batch_shape), "dtype": "float32", "sparse": False,
                "name": layer.name}
    policy = dict(_POLICY, config={"name": layer.dtype_policy.name})
    config: dict[str, Any] = {"name": layer.name, "trainable": layer.trainable, "dtype": policy}
    if isinstance(layer, Dense):
        config.update(units=layer.units, activation=_activation(layer, layer.activation),
                      use_bias=layer.use_bias,
                      kernel_initializer=_initializer(layer, "kernel_initializer"),
                      bias_initializer=_initializer(layer, "bias_initializer"),
                      kernel_regularizer=_regularizer(layer, "kernel_regularizer"),
                      bias_regularizer=_regularizer(layer, "bias_regularizer"),
                      kernel_constraint=None, bias_constraint=None)
    elif isinstance(layer, Activation):
        config["activation"] = _activation(layer, layer.activation)
    elif isinstance(layer, Dropout):
        config.update(rate=layer.rate, seed=layer.seed, noise_shape=None)
    elif isinstance(layer, Concatenate):
        config["axis"] = layer.axis
    elif isinstance(layer, Flatten):
        config["data_format"] = "channels_last"
    elif isinstance(layer, Reshape):
        config["target_shape"] = list(layer.target_shape)
    elif cls not in _MERGES:
        raise AssertionError(cls)
    return config


def _layer_entry(layer: Layer) -> dict[str, Any]:
    """``serialize_keras_object`` of a layer or a nested model."""
    if type(layer) in (Sequential, Functional):
        return _model_entry(layer)
    if type(layer) is not _LAYERS.get(type(layer).__name__):
        raise ValueError(f"{_what(layer)} is not one of fastnn's built-in layers, which are all "
                         f"that Keras' format can describe here ({', '.join(_LAYERS)})")
    entry: dict[str, Any] = {"module": "keras.layers", "class_name": type(layer).__name__,
                             "config": _layer_config(layer), "registered_name": None}
    if layer.built and layer._build_shapes is not None and not isinstance(layer, InputLayer):
        entry["build_config"] = {"input_shape": _shape(layer._build_shapes)}
    return entry


def _model_entry(model: Any) -> dict[str, Any]:
    """``serialize_keras_object`` of a Sequential or functional model (no compile_config)."""
    if isinstance(model, Sequential):
        shape = model.inputs[0].shape if model.built else model._input_batch_shape()
        layers: list[dict[str, Any]] = []
        config: dict[str, Any] = {"name": model.name, "trainable": model.trainable,
                                  "dtype": dict(_POLICY), "layers": layers}
        if shape is not None:
            name = model._input_layer.name if model._input_layer is not None else "input_layer"
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": {"batch_shape": list(shape), "dtype": "float32",
                                      "sparse": False, "name": name},
                           "registered_name": None})
            config["build_input_shape"] = list(shape)
        layers += [_layer_entry(layer) for layer in model.layers]
        entry: dict[str, Any] = {"module": "keras", "class_name": "Sequential",
                                 "config": config, "registered_name": None}
        if model.built and shape is not None:
            entry["build_config"] = {"input_shape": list(shape)}
        return entry
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": _functional_config(model), "registered_name": "Functional",
            "build_config": {"input_shape": None}}


def _functional_config(model: Functional) -> dict[str, Any]:
    """A functional model's graph as Keras states it: its layers in Keras' order, each with the
    calls that feed it, numbered as Keras numbers them (each layer's calls in this graph in the
    order they were made)."""
    calls: dict[int, list[Node]] = {}
    for node in sorted(model._nodes, key=lambda n: n.id):
        calls.setdefault(id(node.layer), []).append(node)

    def history(t: KerasTensor) -> list[Any]:
        assert t._node is not None
        return [t._node.layer.name, calls[id(t._node.layer)].index(t._node), t._index]

    def tensor(t: KerasTensor) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": "float32",
                           "keras_history": history(t)}}

    def ref(t: KerasTensor) -> list[Any]:
        # Keras numbers a nested functional model's calls from 1 in input_layers and
        # output_layers (its node 0 was once the model's own), and from 0 in the calls' args.
        name, index, out = history(t)
        assert t._node is not None
        return [name, index + (type(t._node.layer) is Functional), out]

    def refs(structure: Any) -> Any:
        if isinstance(structure, dict):
            return {k: refs(v) for k, v in structure.items()}
        if isinstance(structure, (list, tuple)):
            return [refs(t) for t in structure]
        return ref(structure)

    layers = []
    for layer in _graph_order(model):
        entry = _layer_entry(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [[tensor(t) for t in n.inputs] if n.as_list else tensor(n.inputs[0])],
             "kwargs": {k: v for k, v in n.kwargs.items()
                        if isinstance(v, (bool, int, float, str))}}
            for n in calls.get(id(layer), []) if n.inputs]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs(model._inputs_struct),
            "output_layers": refs(model._outputs_struct)}


def _compile_config(model: Any) -> dict[str, Any]:
    optimizer = model.optimizer
    cls = type(optimizer).__name__
    if type(optimizer) is not _OPTIMIZERS.get(cls):
        raise ValueError(f"the model is compiled with a custom optimizer ({cls}); Keras' format "
                         f"stores fastnn's {', '.join(_OPTIMIZERS)} only")
    loss, loss_weights, metrics = model._compile_args
    return {"optimizer": {"module": "keras.optimizers", "class_name": cls,
                          "config": optimizer.get_config(), "registered_name": None},
            # Names, as fastnn's format stores them: a function of your own is loaded (by
            # Keras or fastnn) from custom_objects.
            "loss": _names(loss), "loss_weights": _names(loss_weights),
            "metrics": _names(metrics), "weighted_metrics": None,
            "run_eagerly": bool(model._run_eagerly)}


def _trainable_in_keras_order(model: Any) -> list[Variable]:
    """The model's trainable weights in the order of Keras' ``model.trainable_variables``, which
    the optimizer's slots follow: each layer's (in Keras' layer order), nested models' in turn."""
    return [v for _, layer in _weight_groups(model) for v in layer._own_weights(True)]


def _optimizer_arrays(model: Any) -> list[np.ndarray]:
    """The optimizer's variables as Keras lists them: iterations, learning rate, then its slots
    per trainable weight. A fastnn optimizer not built for this model's trainable weights (not
    yet trained) gives a fresh state: iterations 0 and the slots as ``build`` makes them."""
    optimizer = model.optimizer
    weights = _trainable_in_keras_order(model)
    built = optimizer.built and len(optimizer._variables) == len(weights) and all(
        id(v) in optimizer._offsets for v in weights)
    source = optimizer
    if not built:
        source = type(optimizer).from_config(optimizer.get_config())
        source.build(weights)
    arrays: list[np.ndarray] = [np.array(source.iterations, np.int64),
                                np.array(optimizer.learning_rate, np.float32)]
    names, interleave = _SLOTS[type(optimizer).__name__]
    slots = [flat for flat in (getattr(source, name, None) for name in names) if flat is not None]

    def piece(flat: np.ndarray, v: Variable) -> np.ndarray:
        offset = source._offsets[id(v)]
        return np.asarray(flat[offset:offset + v.size]).reshape(v.shape)
    if interleave:
        arrays += [piece(flat, v) for v in weights for flat in slots]
    else:
        arrays += [piece(flat, v) for flat in slots for v in weights]
    return arrays


def _write_weights(h5: Any, model: Any) -> None:
    """model.weights.h5: a ``vars`` group (with the object's name) for the model, each nested
    model and each layer, holding its weights as datasets '0', '1', ...; then the optimizer's."""
    for path, layer in _weight_groups(model):
        group = h5.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = layer.name
        if isinstance(layer, Functional):
            continue  # its weights are its layers'
        for i, var in enumerate(layer._own_weights(None)):
            group[str(i)] = np.asarray(var)
    if model.compiled and model.optimizer is not None and model._compile_args is not None:
        group = h5.create_group("optimizer/vars")
        group.attrs["name"] = _snake(type(model.optimizer).__name__)
        for i, array in enumerate(_optimizer_arrays(model)):
            group[str(i)] = array


# ---- loading ---------------------------------------------------------------------------------

class _KerasInitializer:
    """A Keras initializer fastnn does not have (or with other settings): kept as its Keras
    entry, so that saving the model again writes it back. The loaded weights come from the file;
    only making fresh ones (a clone) would call it, and that fails, naming it."""

    def __init__(self, entry: Any) -> None:
        self.entry = entry

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError(f"fastnn has no Keras initializer {self.entry!r:.200}")


class _Refused(ValueError):
    """A setting of the file that fastnn cannot honour (raised with the layer named)."""


def _policy_name(dtype: Any) -> Any:
    """The policy's name in a Keras dtype setting (a name, or a DTypePolicy's config)."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict) and dtype.get("class_name") in ("DTypePolicy", "Policy") \
            and isinstance(dtype.get("config"), dict):
        return dtype["config"].get("name")
    return dtype


def _class_entry(value: Any) -> tuple[str, dict[str, Any]]:
    """(class name, config) of a serialized Keras object, or ('', {}) if value is not one."""
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        config = value.get("config")
        return value["class_name"], config if isinstance(config, dict) else {}
    return "", {}


def _initializer_from(value: Any) -> Any:
    if isinstance(value, str):
        return value if value in _INITIALIZERS else _KerasInitializer(value)
    cls, config = _class_entry(value)
    for name, (keras_cls, settings) in _INITIALIZERS.items():
        rest = {k: v for k, v in config.items() if k != "seed" and v is not None}
        if cls == keras_cls and rest == settings:
            return name  # the seed only drew fresh values; the weights come from the file
    return _KerasInitializer(value)


def _regularizer_from(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ("l1", "l2", "l1_l2"):
        found = regularizers.get(value)
        assert isinstance(found, regularizers.L1L2)
        return found.get_config()
    cls, config = _class_entry(value)
    keys = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}.get(cls)
    if keys is None or set(config) - set(keys) or not all(
            isinstance(config.get(k, 0.0), (int, float)) for k in keys):
        raise _Refused(f"regularizer {value!r:.200}: fastnn has L1, L2 and L1L2")
    return {k: float(config.get(k, 0.0)) for k in keys}


def _activation_from(value: Any) -> str:
    if isinstance(value, dict) and value.get("class_name") == "function":
        value = value.get("config")  # how some Keras 3 releases wrap a built-in's name
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in _ACTIVATIONS:
        raise _Refused(f"activation {value!r:.200}: fastnn has {', '.join(_ACTIVATIONS)}")
    return value


def _settings(config: dict[str, Any], known: dict[str, Callable[[Any], Any]],
              neutral: dict[str, Any]) -> dict[str, Any]:
    """fastnn's constructor arguments from a Keras config: the known keys converted, the
    neutral ones checked to hold the value at which they do nothing (or null, or false). Any
    other key that is set is a setting fastnn does not have, refused rather than dropped."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in known:
            out[key] = known[key](value)
        elif key in neutral:
            if value is not None and value != neutral[key]:
                raise _Refused(f"{key}={value!r:.200}, which fastnn does not support "
                               f"(only {neutral[key]!r})")
        elif value not in (None, False):
            raise _Refused(f"{key}={value!r:.200}, a setting fastnn does not have")
    return out


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Refused(f"name {value!r:.100} is not a non-empty string")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused(f"{value!r:.100} is not true or false")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"{value!r:.100} is not an integer")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Refused(f"{value!r:.100} is not a number")
    return float(value)


def _dims(value: Any) -> list[int | None]:
    if not isinstance(value, list) or len(value) > 32:
        raise _Refused(f"{value!r:.100} is not a shape")
    return [None if d is None else _int(d) for d in value]


def _dtype(value: Any) -> str:
    name = _policy_name(value)
    if name not in ("float32", "mixed_bfloat16"):
        raise _Refused(f"dtype {value!r:.200}: fastnn's policies are float32 and mixed_bfloat16")
    return str(name)


_COMMON: dict[str, Callable[[Any], Any]] = {"name": _name, "trainable": _flag, "dtype": _dtype}


def _layer_from(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """fastnn's config (get_config's dict) for a Keras layer config of one of fastnn's classes."""
    known = dict(_COMMON)
    neutral: dict[str, Any] = {}
    if class_name == "InputLayer":
        known.update(batch_shape=_dims, batch_input_shape=_dims)
        neutral = {"sparse": False, "ragged": False, "optional": False}
    elif class_name == "Dense":
        known.update(units=_int, activation=_activation_from, use_bias=_flag,
                     kernel_initializer=_initializer_from, bias_initializer=_initializer_from,
                     kernel_regularizer=_regularizer_from, bias_regularizer=_regularizer_from)
        neutral = {"activity_regularizer": None, "kernel_constraint": None,
                   "bias_constraint": None, "quantization_config": None, "lora_rank": None,
                   "lora_alpha": config.get("lora_alpha")}  # used only with a lora_rank
    elif class_name == "Activation":
        known["activation"] = _activation_from
    elif class_name == "Dropout":
        known.update(rate=_number, seed=lambda s: None if s is None else _int(s))
        neutral = {"noise_shape": None}
    elif class_name == "Concatenate":
        known["axis"] = _int
    elif class_name == "Flatten":
        neutral = {"data_format": "channels_last"}
    elif class_name == "Reshape":
        known["target_shape"] = lambda s: [_int(d) for d in _dims(s)]
    settings = _settings(config, known, neutral)
    if settings.get("dtype") == "float32" or class_name == "InputLayer":
        settings.pop("dtype", None)  # as fastnn's own config, which names other policies only
    if "batch_input_shape" in settings:  # Keras 2's name
        settings.setdefault("batch_shape", settings.pop("batch_input_shape"))
    return settings


def _keras_history(arg: Any) -> list[Any]:
    """[layer name, call index, output index] of a ``__keras_tensor__`` argument."""
    cls, config = _class_entry(arg)
    history = config.get("keras_history")
    if cls != "__keras_tensor__" or not isinstance(history, list) or len(history) != 3:
        raise _Refused(f"a call's argument {arg!r:.200} is not a Keras tensor")
    return [_name(history[0]), _int(history[1]), _int(history[2])]


def _call_from(node: Any) -> dict[str, Any]:
    """fastnn's ``{args, as_list, kwargs}`` for a Keras ``{args, kwargs}`` call."""
    if not isinstance(node, dict) or not isinstance(node.get("args"), list) or \
            len(node["args"]) != 1:
        raise _Refused(f"a call {node!r:.200} does not take one argument (a tensor or a list "
                       f"of them)")
    arg = node["args"][0]
    cls, config = _class_entry(arg)
    if cls in ("__tuple__", "__list__"):
        arg = config.get("value")
    kwargs: dict[str, Any] = {}
    for key, value in (node.get("kwargs") or {}).items():
        if key == "training" and isinstance(value, bool):
            kwargs[key] = value
        elif value is not None:  # mask=None: no mask, as always in fastnn
            raise _Refused(f"a call with {key}={value!r:.100}, which fastnn does not take")
    if isinstance(arg, list):
        return {"args": [_keras_history(a) for a in arg], "as_list": True, "kwargs": kwargs}
    return {"args": [_keras_history(arg)], "as_list": False, "kwargs": kwargs}


def _refs_from(structure: Any, functional: set[str]) -> Any:
    """input_layers or output_layers: a ref, a list of them or a dict of them; Keras numbers a
    nested functional model's calls from 1 there (see _functional_config)."""
    def ref(value: Any) -> list[Any]:
        if not (isinstance(value, list) and len(value) == 3):
            raise _Refused(f"{value!r:.200} is not a [layer, call, output] reference")
        name, index, out = _name(value[0]), _int(value[1]), _int(value[2])
        if name in functional:
            if index < 1:
                raise _Refused(f"{value!r:.200} names call {index} of a functional model, "
                               f"whose calls Keras numbers from 1 there")
            index -= 1
        return [name, index, out]
    if isinstance(structure, dict):
        return {str(k): ref(v) for k, v in structure.items()}
    if isinstance(structure, list) and structure and isinstance(structure[0], list):
        return [ref(v) for v in structure]
    return ref(structure)


def _entry_from(entry: Any, objects: dict[str, Any], where: str) -> dict[str, Any]:
    """fastnn's ``{class_name, config}`` (a functional model's entries also ``name`` and
    ``inbound_nodes``) for a Keras layer or model entry."""
    if not isinstance(entry, dict):
        raise _Refused(f"a layer entry {entry!r:.200} is not a JSON object")
    cls, config = _class_entry(entry)
    name = config.get("name", entry.get("name"))
    what = f"layer {name!r:.100} ({cls or entry.get('class_name')!r:.100})"
    try:
        if cls in objects:  # your own class: its config as Keras wrote it
            settings: dict[str, Any] = {k: v for k, v in config.items() if k != "dtype"}
            out: dict[str, Any] = {"class_name": cls, "config": settings}
        elif cls in ("Sequential", "Functional"):
            out = {"class_name": cls, "config": _model_from(cls, config, objects, where)}
        elif cls in _LAYERS:
            out = {"class_name": cls, "config": _layer_from(cls, config)}
        else:
            raise _Refused(f"fastnn has no such layer class; it reads Keras' "
                           f"{', '.join(_LAYERS)}, Sequential and Functional (pass your own "
                           f"class in custom_objects={{{cls!r}: ...}})")
        if "inbound_nodes" in entry:
            nodes = entry["inbound_nodes"]
            if not isinstance(nodes, list):
                raise _Refused(f"inbound_nodes {nodes!r:.100} is not a list")
            out["name"] = _name(entry.get("name"))
            out["inbound_nodes"] = [_call_from(n) for n in nodes]
        return out
    except _Refused as e:
        if str(e).startswith("layer "):
            raise
        raise _Refused(f"{what}: {e}") from None


def _model_from(cls: str, config: dict[str, Any], objects: dict[str, Any],
                where: str) -> dict[str, Any]:
    """fastnn's Sequential or Functional config for Keras'."""
    _settings({k: v for k, v in config.items() if k not in ("layers", "input_layers",
                                                            "output_layers")},
              dict(_COMMON, build_input_shape=lambda s: s), {})
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise _Refused(f"its layers {layers!r:.100} are not a list")
    entries = [_entry_from(e, objects, where) for e in layers]
    out: dict[str, Any] = {"name": config.get("name"), "trainable": config.get("trainable", True),
                           "layers": entries}
    if cls == "Sequential":
        if config.get("build_input_shape") is not None:
            out["build_input_shape"] = _dims(config["build_input_shape"])
        return out
    functional = {e["name"] for e in entries if e.get("class_name") == "Functional"}
    out["input_layers"] = _refs_from(config.get("input_layers"), functional)
    out["output_layers"] = _refs_from(config.get("output_layers"), functional)
    return out


class _Budget:
    """Makes each weight the layers create as zeros (no initializer runs), and refuses any
    beyond the bytes the weights file holds: a description cannot make fastnn allocate more than
    the file's size (the file's datasets are unfiltered: see _dataset)."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def __call__(self, layer: str, name: str | None, shape: tuple[int, ...],
                 trainable: bool) -> Variable:
        nbytes = check_shape(shape, 4, "the model", f"layer '{layer}''s weight '{name}'")
        if nbytes > self.left:
            raise ValueError(f"layer '{layer}' creates its weight '{name}' of shape {shape} "
                             f"({nbytes} bytes), more than is left of the weights file "
                             f"({self.left} bytes)")
        self.left -= nbytes
        return Variable(np.zeros(shape, np.float32), trainable=trainable, name=name)


def load_keras(filepath: PathArg, compile: bool = True,
               custom_objects: dict[str, Any] | None = None) -> Any:
    """Loads a Keras 3 ``.keras`` file (written by Keras or by ``save_keras``) of the layers
    fastnn has, as a fastnn Sequential or functional model.

    Args:
        filepath: the ``.keras`` file.
        compile: compile the model with the file's optimizer (and settings), losses, loss
            weights and metrics, when it has them. Defaults to True.
        custom_objects: your own layer classes, losses and metrics by name. Defaults to None.

    Returns:
        The model, with the file's weights. The optimizer starts afresh (the file's optimizer
        variables are not read), as after ``load_model`` of a fastnn file.

    Raises:
        ImportError: h5py is not installed.
        FileNotFoundError: no such file.
        ValueError: the file is not a regular file, not a readable zip, lacks config.json or
            model.weights.h5, is corrupt or truncated, names a layer class fastnn does not have
            (the message names the class, the layer and the file), has a setting fastnn cannot
            honour (another dtype, a constraint, an activity regularizer, ...), or weights that
            do not fit the layers; every message names the file.
        OSError: the file cannot be read.
    """
    h5py = _h5py()
    path = Path(filepath)
    where = str(path)
    objects = dict(custom_objects or {})
    f, size = open_model_file(path)
    with f:
        archive = Npz(f, size, where, "Keras model file")
        config = _read_json(archive, _CONFIG, where)
        if _METADATA in archive:
            _read_json(archive, _METADATA, where)  # checked; nothing in it is needed
        if _WEIGHTS not in archive:
            raise ValueError(f"{where}: the archive has no {_WEIGHTS} (fastnn reads Keras' "
                             f"h5 weights, not npz or sharded ones)")
        weights = _read_member(archive, _WEIGHTS, where, archive.members[_WEIGHTS].file_size)
    try:
        h5 = h5py.File(io.BytesIO(weights), "r")
    except Exception as e:
        if isinstance(e, MemoryError):
            raise
        raise ValueError(f"{where}: {_WEIGHTS} is not a readable HDF5 file "
                         f"({type(e).__name__}: {e})") from None
    with h5:
        model = _build(config, objects, _Budget(len(weights)), where)
        _fill(h5, model, where)
    settings = config.get("compile_config")
    if compile and settings:
        _compile(model, _compile_from(settings, where), objects, path)
    return model


def _read_member(archive: Npz, name: str, where: str, limit: int) -> bytes:
    """The whole of member name, whose declared size is checked against limit first (and, by
    Npz, against what its bytes in the file can hold); the read to its end checks its CRC."""
    info = archive.members[name]
    if info.file_size > limit:
        raise ValueError(f"{where}: {name} declares {info.file_size} bytes; at most {limit} "
                         f"are read")
    buffer = bytearray(info.file_size)
    with archive._open(name) as member:
        archive._guard(name, lambda: fill(member, memoryview(buffer), where, name))
        if archive._guard(name, lambda: member.read(1)):
            raise ValueError(f"{where}: {name} holds more bytes than it declares")
    return bytes(buffer)


def _read_json(archive: Npz, name: str, where: str) -> dict[str, Any]:
    if name not in archive:
        raise ValueError(f"{where}: not a Keras model file (the archive has no {name})")
    text = _read_member(archive, name, where, _MAX_JSON)
    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"{where}: {name} is not JSON ({type(e).__name__}: {e})") from None
    if isinstance(value, dict):
        return value
    raise ValueError(f"{where}: {name} is not a JSON object")


def _build(config: dict[str, Any], objects: dict[str, Any], budget: _Budget, where: str) -> Any:
    """The model config.json describes, its weights made as zeros within budget."""
    previous = getattr(weights_from_file, "source", None)
    weights_from_file.source = budget
    try:
        cls, inner = _class_entry(config)
        if cls not in ("Sequential", "Functional"):
            raise _Refused(f"the model is a {cls or config.get('class_name')!r:.100}; fastnn "
                           f"reads Sequential and Functional models")
        description = _model_from(cls, inner, objects, where)
        build_shape = description.pop("build_input_shape", None)
        model = MODEL_CLASSES[cls].from_config(description, objects)
        if isinstance(model, Sequential) and not model.built and build_shape is not None:
            model.build(tuple(build_shape))
        return model
    except MemoryError:
        raise
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a description of the wrong shape: KeyError, ...
        raise ValueError(f"{where}: the model description is invalid "
                         f"({type(e).__name__}: {e})") from None
    finally:
        weights_from_file.source = previous


def _child(h5py: Any, group: Any, name: str, where: str, path: str) -> Any:
    """group[name] if it is a hard link (a soft or external link could point anywhere, even
    into another file), else None when absent."""
    if name not in group:
        return None
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.HardLink):
        return group[name]
    raise ValueError(f"{where}: {_WEIGHTS} links {path} elsewhere ({type(link).__name__})")


def _group(h5py: Any, h5: Any, path: str, where: str) -> Any:
    """The group at path ('/'-separated parts, each a hard link), or None when absent."""
    node = h5
    walked = ""
    for part in path.split("/"):
        walked = f"{walked}/{part}" if walked else part
        node = _child(h5py, node, part, where, walked)
        if node is None:
            return None
        if isinstance(node, h5py.Dataset):
            raise ValueError(  # noqa: TRY004 - a malformed file is a ValueError, as everywhere
                f"{where}: {_WEIGHTS}'s {walked} is a dataset, not a group")
    return node


def _dataset(h5py: Any, group: Any, name: str, path: str, var: Variable, where: str) -> Any:
    ds = _child(h5py, group, name, where, f"{path}/{name}")
    if ds is None or isinstance(ds, h5py.Group):
        raise ValueError(f"{where}: {_WEIGHTS} has no dataset {path}/{name}")
    if ds.external or ds.is_virtual:
        raise ValueError(f"{where}: {_WEIGHTS}'s {path}/{name} keeps its data outside the file")
    # Keras writes plain datasets; a filter (compression) could declare far more than it holds.
    if ds.id.get_create_plist().get_nfilters():
        raise ValueError(f"{where}: {_WEIGHTS}'s {path}/{name} is compressed or filtered; "
                         f"Keras writes plain datasets")
    if ds.attrs.get("dtype") == "bfloat16" or ds.dtype.kind not in WEIGHT_KINDS or \
            ds.dtype.subdtype is not None:
        raise ValueError(f"{where}: {_WEIGHTS}'s {path}/{name} holds {ds.dtype}; fastnn reads "
                         f"integers or floats (as float32)")
    if tuple(ds.shape) != var.shape:
        raise ValueError(f"{where}: {_WEIGHTS}'s {path}/{name} has shape {tuple(ds.shape)}, "
                         f"but the layer's weight '{var.name}' has shape {var.shape}")
    return ds


def _fill(h5: Any, model: Any, where: str) -> None:
    """Sets each layer's weights from its group of model.weights.h5, found as Keras finds it
    (_weight_groups), each dataset checked before it is read."""
    h5py = _h5py()
    try:
        for path, layer in _weight_groups(model):
            vars_path = f"{path}/vars" if path else "vars"
            group = _group(h5py, h5, vars_path, where)
            own = [] if isinstance(layer, Functional) else layer._own_weights(None)
            count = 0 if group is None else len(group)
            if count != len(own):
                raise ValueError(f"{where}: {_what(layer)} has {len(own)} weights, but "
                                 f"{_WEIGHTS} holds {count} in {vars_path}")
            for i, var in enumerate(own):
                ds = _dataset(h5py, group, str(i), vars_path, var, where)
                target = np.asarray(var)
                if target.size:
                    ds.read_direct(target)
    except MemoryError:
        raise
    except Exception as e:  # h5py's errors about a corrupt file: OSError, KeyError, ...
        if isinstance(e, ValueError) and str(e).startswith(where):
            raise
        raise ValueError(f"{where}: {_WEIGHTS} is corrupt ({type(e).__name__}: {e})") from None


def _loss_from(value: Any, table: dict[str, str], what: str) -> Any:
    """A loss or metric setting: names stay; Keras' objects for fastnn's functions at their
    default settings become the functions' names; lists and dicts by output, recursively."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_loss_from(v, table, what) for v in value]
    cls, config = _class_entry(value)
    if cls and cls in table:
        extra = {k: v for k, v in config.items()
                 if k not in ("name", "dtype", "reduction") and v not in (None, False, 0, 0.0)
                 and not (k == "axis" and v == -1) and not (k == "threshold" and v == 0.5)}
        if extra or config.get("reduction", "sum_over_batch_size") != "sum_over_batch_size":
            raise _Refused(f"{what} {cls} with {extra or config.get('reduction')}, settings "
                           f"fastnn's {table[cls]} does not have")
        return table[cls]
    if cls in ("function", "builtins>function") or (cls and value.get("registered_name")):
        return value.get("config") if isinstance(value.get("config"), str) else cls
    if isinstance(value, dict) and not cls:
        return {str(k): _loss_from(v, table, what) for k, v in value.items()}
    raise _Refused(f"{what} {value!r:.200}: fastnn has no such {what}")


def _compile_from(settings: Any, where: str) -> dict[str, Any]:
    """saving's compile settings for a Keras compile_config (checked by saving._compile)."""
    try:
        if not isinstance(settings, dict):
            raise _Refused(f"{settings!r:.200} is not a JSON object")
        optimizer = settings.get("optimizer")
        if isinstance(optimizer, dict):
            cls, config = _class_entry(optimizer)
            if cls not in _OPTIMIZERS:
                raise _Refused(f"optimizer {cls or optimizer!r:.100}: fastnn has "
                               f"{', '.join(_OPTIMIZERS)}")
            lr = config.get("learning_rate")
            if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
                raise _Refused(f"learning_rate {lr!r:.200}: fastnn takes a number (no "
                               f"schedules)")
            neutral = dict(_NEUTRAL_OPTIMIZER, ema_momentum=config.get("ema_momentum"),
                           ema_overwrite_frequency=None, name=config.get("name"))
            names = set(_OPTIMIZERS[cls]().get_config())
            kept = _settings(config, {k: (lambda v: v) for k in names}, neutral)
            optimizer = {"class_name": cls, "config": kept}
        if settings.get("weighted_metrics"):
            raise _Refused(f"weighted_metrics {settings['weighted_metrics']!r:.200}: fastnn "
                           f"has no weighted metrics")
        return {"optimizer": optimizer, "loss": _loss_from(settings.get("loss"), _LOSS_CLASSES,
                                                           "loss"),
                "loss_weights": settings.get("loss_weights"),
                "metrics": _loss_from(settings.get("metrics"), _METRIC_CLASSES, "metric")}
    except _Refused as e:
        raise ValueError(f"{where}: the compile settings are invalid: {e}") from None



KERAS_FORMAT.update(save=save_keras, load=load_keras)
