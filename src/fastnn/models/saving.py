"""Saving and loading models: one file, an npz archive holding each weight array and a JSON
description (the architecture as ``get_config`` gives it, and the compile settings); no pickle.
Saves are atomic: written to a temporary file in the same folder, then renamed over the target.

Format version 2 describes any Sequential or functional model; version 1 files (Sequential
models written by fastnn 0.1) still load.

A model file may come from anyone, so loading trusts nothing in it: only a regular file is
opened; each array's declared shape is checked against the bytes its member holds before it is
read; the description's weights are checked against the saved arrays' shapes as the layers
create them, before each is allocated (a file cannot describe a model larger than the arrays it
holds), and each saved array becomes its weight directly, with no initializer run first. Every
malformed file raises ValueError naming the file and the problem.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Type, Union

import numpy as np

from .. import losses, metrics as metrics_module, optimizers
from .._model_path import check_save_path, is_keras_path
from .._safe_read import Npz, open_regular
from ..autograd import Variable
from ..layers import deserialize as deserialize_layer
from ..layers.base import WEIGHT_KINDS, weights_from_file

__all__ = ["save_model", "load_model"]

FORMAT_NAME = "fastnn"
FORMAT_VERSION = 2
_CONFIG_KEY = "__fastnn_config__"
# A model description is a few kB per layer: 64 MB of JSON is not one.
_MAX_DESCRIPTION = 64 << 20

# The model classes a file can name, registered by their modules (Functional, Sequential).
MODEL_CLASSES: Dict[str, Type[Any]] = {}
# The other formats, registered by their modules, which import the model classes (which import
# this one): Keras' .keras files by keras_format ("save", "load"), exports by format name
# ("onnx": onnx_export). The models package imports both.
KERAS_FORMAT: Dict[str, Callable[..., Any]] = {}
EXPORTERS: Dict[str, Callable[..., None]] = {}


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
    """Saves a model's architecture, weights and compile settings (``model.save``): in Keras 3's
    format when the name ends in ``.keras`` (``models.keras_format.save_keras``; Keras loads the
    file), else in fastnn's own, whose files end in ``.fnn`` by convention.

    The file is written atomically. A new file gets the permissions any new file gets (0666
    less the umask); a file that is replaced keeps its permission bits, as if it were written
    in place.

    Args:
        model: a Sequential or functional model.
        filepath: the file to write (``'model.fnn'``, ``'model.keras'``); an existing file is
            replaced.

    Raises:
        ValueError: a path ending in .h5 or .hdf5 (Keras' legacy format, which fastnn does not
            write); for .keras, a setting Keras' format cannot state (see ``save_keras``).
        ImportError: .keras without h5py (``pip install "fastnn[keras-format]"``).
        OSError: the folder does not exist or cannot be written.
        NotImplementedError: a subclassed model without ``get_config``.
    """
    check_save_path(filepath)
    if is_keras_path(filepath):
        KERAS_FORMAT["save"](model, filepath)
        return
    arrays = _archive(model)
    write_atomically(Path(filepath), lambda f: np.savez(f, **arrays))


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Calls write on a new temporary file beside path, then renames it over path: a reader, or
    a crash, sees the old file or the whole new one, never a part. A replaced file's permission
    bits carry over; a new file gets those any new file gets (0666 less the umask)."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = _new_file_beside(folder, path.name)
    try:
        mode = _mode_of(path)
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _archive(model: Any) -> Dict[str, Any]:
    """The arrays of a model file: each weight, and the description as the bytes of JSON."""
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
    return arrays


def model_to_bytes(model: Any) -> bytes:
    """A model file's bytes, for pickling (``Model.__reduce__``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **_archive(model))
    return buffer.getvalue()


def model_from_bytes(data: bytes) -> Any:
    """The model that ``model_to_bytes`` wrote, read with the checks of ``load_model`` (a pickle
    is as untrusted as a file)."""
    return _read(io.BytesIO(data), len(data), Path("<pickled fastnn model>"), True, {})


def _new_file_beside(folder: Path, name: str) -> Tuple[int, str]:
    """A new temporary file in folder, created with mode 0666 as ``open`` creates files, so the
    umask (and a default ACL) gives it the permissions any new file there gets; mkstemp's 0600
    made every saved model private whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(folder / f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {name} in {folder}")


def _mode_of(path: Path) -> Optional[int]:
    """The permission bits of the file that a save replaces, which the new file keeps (as a
    write in place would); None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) & 0o777 if stat.S_ISREG(info.st_mode) else None


def _read_description(archive: Npz, path: Path) -> Dict[str, Any]:
    """The JSON description in the archive, checked to be a fastnn one of a version this reads."""
    if _CONFIG_KEY not in archive:
        raise ValueError(f"{path}: not a fastnn model file (no model header)")
    header = archive.header(_CONFIG_KEY, "biuf")
    if header.dtype != np.uint8 or len(header.shape) != 1:
        raise ValueError(f"{path}: its model header is an array of {header.dtype} and shape "
                         f"{header.shape}, not the bytes of a JSON text")
    if header.shape[0] > _MAX_DESCRIPTION:
        raise ValueError(f"{path}: its model header declares {header.shape[0]} bytes; a model "
                         f"description is at most {_MAX_DESCRIPTION}")
    text = archive.read(_CONFIG_KEY, "u").tobytes()
    try:
        config = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError: ValueError
        raise ValueError(f"{path}: not a readable fastnn model file (its model header is not "
                         f"JSON: {type(e).__name__}: {e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a fastnn model file (its header is not a fastnn "
                         f"description)")
    version = config.get("version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{path}: invalid model format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path}: saved in model format version {version}, which is newer "
                         f"than this fastnn reads (up to {FORMAT_VERSION}); upgrade fastnn")
    return config


def _weight_shapes(archive: Npz, path: Path) -> List[Tuple[int, ...]]:
    """The saved weights' shapes, from their headers: the archive must hold weight_0 ...
    weight_{n-1} and the description, nothing else."""
    names = [name for name in archive.members if name != _CONFIG_KEY]
    expected = {f"weight_{i}" for i in range(len(names))}
    if set(names) != expected:
        odd = sorted(set(names) - expected)
        raise ValueError(f"{path}: unexpected arrays in a model file: {odd[:5]}"
                         f"{' ...' if len(odd) > 5 else ''} (it holds weight_0 ... "
                         f"weight_{{n-1}} and the model header)")
    return [archive.header(f"weight_{i}", WEIGHT_KINDS).shape for i in range(len(names))]


class _SavedWeights:
    """The file's weight arrays, handed to ``add_weight`` (through ``weights_from_file``) as the
    layers of the model being rebuilt create their weights.

    save_model wrote them in ``model.weights`` order, which is the order in which every built-in
    layer creates them: the k-th weight created gets weight_k, read straight into it. A shape
    that no unused saved array has fails there, before the weight is allocated. A custom layer
    may create its weights in another order (a non-trainable one first, say); its weights are
    then made as zeros, each of a shape the file holds, and ``finish`` assigns the arrays in
    ``weights`` order.
    """

    def __init__(self, archive: Npz, shapes: List[Tuple[int, ...]]) -> None:
        self.archive = archive
        self.shapes = shapes
        self.unused = Counter(shapes)
        self.made: List[Variable] = []
        self.in_order = True

    def __call__(self, layer: str, name: Optional[str], shape: Tuple[int, ...],
                 trainable: bool) -> Variable:
        k = len(self.made)
        what = f"layer '{layer}' creates its weight '{name}' of shape {shape}"
        if k >= len(self.shapes):
            raise ValueError(f"the file holds {len(self.shapes)} weight arrays, fewer than the "
                             f"model creates ({what}, its weight number {k + 1})")
        if self.unused[shape] == 0:
            raise ValueError(f"{what}, but the file's weight_{k} has shape {self.shapes[k]}"
                             if self.shapes[k] != shape else
                             f"{what}, but every array of that shape in the file is taken")
        self.unused[shape] -= 1
        var = Variable(np.zeros(shape, np.float32), trainable=trainable, name=name)
        if self.in_order and self.shapes[k] == shape:
            self._fill(var, k)
        else:
            self.in_order = False
        self.made.append(var)
        return var

    def _fill(self, var: Variable, k: int) -> None:
        """Reads weight_k into var. ``np.asarray`` of a Variable is its own array, uncopied:
        the file is read straight into it, so a large weight is never held twice (checked: if a
        later fastnn made a copy there, each call would give a new one, and assign is used)."""
        name = f"weight_{k}"
        target = np.asarray(var)
        if target is np.asarray(var) and self.archive.fits(name, WEIGHT_KINDS, target):
            self.archive.read_into(name, WEIGHT_KINDS, target)
        else:
            var.assign(self.archive.read(name, WEIGHT_KINDS))

    def finish(self, model: Any, path: Path) -> None:
        """Checks the rebuilt model's weights against the file, and fills them if the layers
        did not create them in the saved order."""
        weights = model.weights
        if len(weights) != len(self.shapes):
            raise ValueError(f"{path}: the file holds {len(self.shapes)} weight arrays for a "
                             f"model of {len(weights)}")
        if self.in_order and [id(v) for v in weights] == [id(v) for v in self.made]:
            return
        for i, (var, shape) in enumerate(zip(weights, self.shapes)):
            if var.shape != shape:
                raise ValueError(f"{path}: the model's weight {i} has shape {var.shape}, but the "
                                 f"file's weight_{i} has shape {shape}")
        for i, var in enumerate(weights):
            self._fill(var, i)


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
    """Loads a model written by ``model.save``: a ``.keras`` file (written by fastnn or by
    Keras 3, of the layers fastnn has; ``models.keras_format.load_keras``) or a fastnn file.

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
        ValueError: the file is not a regular file (a FIFO, a device, a folder), is truncated
            or corrupt, is not a fastnn model, is from a newer fastnn (a format version this one
            cannot read), describes weights that its arrays do not match, has invalid compile
            settings, or names a class, loss or metric it does not know (pass it in
            ``custom_objects``). The message names the file.
        OSError: the file cannot be read.
    """
    if is_keras_path(filepath):
        return KERAS_FORMAT["load"](filepath, compile, custom_objects)
    path = Path(filepath)
    f, size = open_model_file(path)
    with f:
        return _read(f, size, path, compile, dict(custom_objects or {}))


def open_model_file(path: Path) -> Tuple[IO[bytes], int]:
    """A model file opened for reading, if it is a regular one, and its size."""
    try:
        return open_regular(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"No such model file: {path}") from None


def _read(f: IO[bytes], size: int, path: Path, compile: bool, objects: Dict[str, Any]) -> Any:
    archive = Npz(f, size, str(path), "fastnn model file")
    config = _read_description(archive, path)
    saved = _SavedWeights(archive, _weight_shapes(archive, path))
    model = _rebuild(config, objects, saved, path)
    saved.finish(model, path)
    if compile and "compile" in config:
        _compile(model, config["compile"], objects, path)
    return model


def _rebuild(config: Dict[str, Any], objects: Dict[str, Any], saved: _SavedWeights,
             path: Path) -> Any:
    """The model the description describes, its weights made from the saved arrays."""
    previous = getattr(weights_from_file, "source", None)
    weights_from_file.source = saved
    try:
        if config["version"] == 1:
            return _model_from_v1(config, objects)
        description = config["model"]
        cls = MODEL_CLASSES.get(description["class_name"])
        if cls is None:
            raise ValueError(f"unknown model class {description['class_name']!r}")
        return cls.from_config(description["config"], objects)
    except MemoryError:
        raise
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: {e}") from e
    except Exception as e:  # a description of the wrong shape: KeyError, TypeError, ...
        raise ValueError(f"{path}: the model description is invalid "
                         f"({type(e).__name__}: {e})") from e
    finally:
        weights_from_file.source = previous


def _check_tree(value: Any, what: str, leaf: Callable[[Any], bool], leaf_name: str,
                depth: int) -> None:
    """value is a leaf, or a list (or at the top a dict by output name) of at most depth levels
    of them."""
    def ok(v: Any, level: int) -> bool:
        if leaf(v):
            return True
        if level == depth:
            return False
        if isinstance(v, list):
            return all(ok(item, level + 1) for item in v)
        return level == 0 and isinstance(v, dict) and all(ok(item, 1) for item in v.values())
    if not ok(value, 0):
        nesting = "a list or a dict by output" if depth == 1 else \
            "a list or a dict by output, of them or of lists of them"
        raise ValueError(f"{what} must be {leaf_name}, or {nesting}; received {value!r:.200}")


def _is_name(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_compile(settings: Any) -> None:
    """Raises ValueError unless the compile settings have the types save_model writes: an
    optimizer name or {class_name, config}, and loss, metrics and loss_weights as compile takes
    them (names or numbers, in lists or dicts by output)."""
    if not isinstance(settings, dict):
        raise ValueError(f"they are not a JSON object (received {settings!r:.200})")
    opt = settings.get("optimizer")
    if not (isinstance(opt, str) or isinstance(opt, dict) and isinstance(
            opt.get("class_name"), str) and isinstance(opt.get("config", {}), dict)):
        raise ValueError(f"the optimizer must be a name, or a dict with a class_name (a str) "
                         f"and a config (a dict); received {opt!r:.200}")
    _check_tree(settings.get("loss"), "loss", _is_name, "a name", 1)
    _check_tree(settings.get("metrics"), "metrics", _is_name, "a name", 2)
    if settings.get("loss_weights") is not None:
        _check_tree(settings["loss_weights"], "loss_weights", _is_number, "a number", 1)


def _compile(model: Any, settings: Any, objects: Dict[str, Any], path: Path) -> None:
    """Compiles model with the file's compile settings, checked first: every problem, from the
    checks or from compile itself, is a ValueError naming the file."""
    try:
        _check_compile(settings)
        opt = settings["optimizer"]
        try:
            optimizer = optimizers.get(opt)
        except (TypeError, ValueError) as e:  # the config's keys and values go to a constructor
            raise ValueError(f"optimizer {opt!r:.200}: {type(e).__name__}: {e}") from None
        model.compile(optimizer=optimizer,
                      loss=_resolve(settings.get("loss"), objects, losses.get),
                      loss_weights=settings.get("loss_weights"),
                      metrics=_resolve(settings.get("metrics"), objects, metrics_module.get))
    except MemoryError:
        raise
    except Exception as e:
        problem = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"{path}: the compile settings are invalid: {problem}") from None
