"""Saving and loading models: one file, an npz archive holding each weight array and a JSON
description (the architecture as ``get_config`` gives it, and the compile settings); no pickle.
Saves are atomic: written to a temporary file in the same folder, then renamed over the target.

Format version 2 describes any Sequential or functional model; version 1 files (Sequential
models written by fastnn 0.1) still load.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Type, Union

import numpy as np

from .. import losses, metrics as metrics_module, optimizers
from ..layers import deserialize as deserialize_layer

__all__ = ["save_model", "load_model"]

FORMAT_NAME = "fastnn"
FORMAT_VERSION = 2
_CONFIG_KEY = "__fastnn_config__"

# The model classes a file can name, registered by their modules (Functional, Sequential).
MODEL_CLASSES: Dict[str, Type[Any]] = {}


def _names(value: Any) -> Any:
    """A loss or metric setting as JSON: names stay, functions become their names."""
    if isinstance(value, dict):
        return {k: _names(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_names(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return getattr(value, "__name__", str(value))


def save_model(model: Any, filepath: Union[str, os.PathLike[str]]) -> None:
    """Saves a model's architecture, weights and compile settings (``model.save``).

    Args:
        model: a Sequential or functional model.
        filepath: the file to write; an existing file is replaced.

    Raises:
        OSError: the folder does not exist or cannot be written.
        NotImplementedError: a subclassed model without ``get_config``.
    """
    config: Dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                              "model": {"class_name": type(model).__name__,
                                        "config": model.get_config()},
                              "built": bool(model.built)}
    if model.compiled and model.optimizer is not None and model._compile_args is not None:
        loss, loss_weights, metrics = model._compile_args
        config["compile"] = {
            "optimizer": {"class_name": type(model.optimizer).__name__,
                          "config": model.optimizer.get_config()},
            "loss": _names(loss), "loss_weights": _names(loss_weights),
            "metrics": _names(metrics)}
    arrays: Dict[str, Any] = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays[_CONFIG_KEY] = np.frombuffer(json.dumps(config).encode("utf-8"), np.uint8)
    path = Path(filepath)
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


def _read(path: Path) -> tuple[Dict[str, Any], list[np.ndarray]]:
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
    return config, weights


def _model_from_v1(config: Dict[str, Any], custom_objects: Optional[Dict[str, Any]]) -> Any:
    """A Sequential from a version-1 description: its layers' configs in order."""
    model = MODEL_CLASSES["Sequential"](name=config["model"].get("name"))
    for spec in config["model"]["layers"]:
        model.add(deserialize_layer(spec, custom_objects))
    if config.get("built") and not model.built:
        model.build((None,) + tuple(config["input_shape"]))
    return model


def _resolve(value: Any, custom_objects: Dict[str, Any], known: Any) -> Any:
    """Names from a file back to what compile takes: your functions by name, else the name."""
    if isinstance(value, dict):
        return {k: _resolve(v, custom_objects, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, custom_objects, known) for v in value]
    if isinstance(value, str) and value in custom_objects:
        return custom_objects[value]
    if isinstance(value, str):
        known(value)  # an unknown name fails here, naming it
    return value


def load_model(filepath: Union[str, os.PathLike[str]], compile: bool = True,
               custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """Loads a model written by ``model.save``.

    Args:
        filepath: the model file.
        compile: compile the model with the saved optimizer (and its settings), losses, loss
            weights and metrics, when it was saved compiled. Defaults to True.
        custom_objects: your own layer classes, losses and metrics by name. Defaults to None.

    Returns:
        A Sequential or functional model with the saved weights; the optimizer starts afresh
        (its slots and iteration count are not saved).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is truncated or corrupt, not a fastnn model, from a newer fastnn (a
            format version this one cannot read), or names a class, loss or metric it does not
            know (pass it in ``custom_objects``).
    """
    path = Path(filepath)
    if not path.exists():
        raise FileNotFoundError(f"No such model file: {path}")
    config, weights = _read(path)
    version = config.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} was saved in model format version {version}, which is newer "
                         f"than this fastnn reads (up to {FORMAT_VERSION}); upgrade fastnn")
    objects = dict(custom_objects or {})
    try:
        if version == 1:
            model = _model_from_v1(config, objects)
        else:
            cls = MODEL_CLASSES.get(config["model"]["class_name"])
            if cls is None:
                raise ValueError(f"{path}: unknown model class {config['model']['class_name']!r}")
            model = cls.from_config(config["model"]["config"], objects)
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: the model description is invalid "
                         f"({type(e).__name__}: {e})") from None
    if len(weights) != len(model.weights):
        raise ValueError(f"{path}: the file holds {len(weights)} weight arrays for a model of "
                         f"{len(model.weights)}")
    if model.weights:
        model.set_weights(weights)
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizer=optimizers.get(c["optimizer"]),
                      loss=_resolve(c["loss"], objects, losses.get),
                      loss_weights=c.get("loss_weights"),
                      metrics=_resolve(c.get("metrics"), objects, metrics_module.get))
    return model
