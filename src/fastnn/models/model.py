"""``models.Model``: a Layer that can train. ``Model(inputs, outputs)`` makes a functional model
(a graph of layers, models/functional.py); subclassing Model and writing ``call`` makes a model of
Python code, which trains op by op under a GradientTape. Both share the trainer (compile, fit,
evaluate, predict), the weights API, summary and saving."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union

import numpy as np

from ..layers.base import Layer, NotCompilable
from ..layers.node import KerasTensor, Node, flatten
from ..trainers.data_adapter import InputArray
from ..trainers.trainer import Trainer
from .saving import EXPORTERS, model_from_bytes, model_to_bytes, save_model
from .summary import print_summary

__all__ = ["Model"]


class Model(Trainer, Layer):
    """A model: layers plus training. Build one of three ways, as in Keras:

    - ``Model(inputs=..., outputs=...)`` on symbolic tensors from ``layers.Input``: the
      functional API (several inputs and outputs, shared layers, merges);
    - ``models.Sequential([...])``: a plain stack;
    - a subclass with layers as attributes and ``call(self, inputs, training=False)``.

    Args:
        inputs: the functional API's input tensor(s): one, a list, or a dict by name.
        outputs: its output tensor(s), likewise.
        name: the model's name. Defaults to None ('functional', 'sequential', or the
            subclass' name in snake case).
        trainable: whether training updates the weights. Defaults to True.

    Raises:
        ValueError: (functional) a graph whose outputs do not depend on its inputs only, or two
            layers with one name.
        TypeError: inputs or outputs that are not symbolic tensors.

    Example: the book's two-layer network with the functional API.

    >>> import numpy as np
    >>> from fastnn import layers, models
    >>> input_tensor = layers.Input(shape=(784,))
    >>> x = layers.Dense(32, activation="relu")(input_tensor)
    >>> output_tensor = layers.Dense(10, activation="softmax")(x)
    >>> model = models.Model(inputs=input_tensor, outputs=output_tensor)
    >>> model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> x_train = np.random.rand(256, 784).astype("float32")
    >>> y_train = np.eye(10, dtype="float32")[np.arange(256) % 10]
    >>> history = model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    >>> model.predict(x_train[:3], verbose=0).shape
    (3, 10)
    """

    _takes_sparse = True  # passed on to its layers, which decide

    # models/functional.py registers itself here: Model(inputs, outputs) builds one.
    _functional_class: Optional[Type[Model]] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            assert Model._functional_class is not None
            return object.__new__(Model._functional_class)
        return object.__new__(cls)

    def __init__(self, *args: Any, name: Optional[str] = None, trainable: bool = True,
                 **kwargs: Any) -> None:
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(f"{type(self).__name__} is a subclassed model: build its layers in "
                            f"__init__ and compute in call(); Model(inputs, outputs) is the "
                            f"functional API")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._sub_inputs: Optional[List[Tuple[Optional[int], ...]]] = None
        self._sub_outputs: Optional[List[Tuple[Optional[int], ...]]] = None

    # ---- what the trainer needs, for a subclassed model ------------------------------------------
    def _input_names(self) -> List[str]:
        count = 1 if self._sub_inputs is None else len(self._sub_inputs)
        return ["input"] if count == 1 else [f"input_{i + 1}" for i in range(count)]

    def _input_shapes(self) -> Optional[List[Tuple[Optional[int], ...]]]:
        return self._sub_inputs

    def _output_names(self) -> List[str]:
        count = 1 if self._sub_outputs is None else len(self._sub_outputs)
        return ["output"] if count == 1 else [f"output_{i + 1}" for i in range(count)]

    def _output_shapes(self) -> List[Tuple[Optional[int], ...]]:
        if self._sub_outputs is None:
            raise ValueError(f"model '{self.name}' is not built yet: call it on data (or fit) "
                             f"first")
        return self._sub_outputs

    def _build_for(self, xs: List[InputArray]) -> None:
        """Builds a subclassed model by calling it on one sample (its layers make their weights)."""
        self(self._pack_inputs([x[:1] for x in xs]), training=False)

    def _maybe_build(self, shapes: Any) -> None:
        pass  # a model's layers build themselves when its call runs them

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = super().__call__(*args, **kwargs)
        if not self.built and not any(isinstance(t, KerasTensor) for t in flatten(out)):
            # The first call on data: what it took and gave are the model's inputs and outputs.
            inputs = args[0] if args else out
            xs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            self._sub_inputs = [(None,) + tuple(np.shape(x)[1:]) for x in xs]
            self._sub_outputs = [(None,) + tuple(np.shape(o)[1:])
                                 for o in self._unpack_outputs(out)]
            self.built = True
        return out

    def build(self, input_shape: Any = None) -> None:
        """Builds the model for inputs of ``input_shape`` (batch axis first; a list for
        several inputs) by calling it on zeros of that shape.

        Args:
            input_shape: a shape tuple or a list of them. Defaults to None (nothing to do).
        """
        if input_shape is None or self.built:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        self._build_for([np.zeros((1,) + tuple(1 if d is None else d for d in s[1:]), np.float32)
                         for s in shapes])

    def _graph(self) -> Tuple[List[KerasTensor], List[KerasTensor], List[Node]]:
        raise NotCompilable(f"'{self.name}' is a subclassed model: its call() is Python code, "
                            f"which runs op by op")

    def _pack_inputs(self, xs: List[Any]) -> Any:
        return xs[0] if len(xs) == 1 else list(xs)

    def _unpack_outputs(self, out: Any) -> List[Any]:
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _pack_outputs(self, outs: List[Any]) -> Any:
        return outs[0] if len(outs) == 1 else list(outs)

    def call(self, inputs: Any, training: Optional[bool] = None) -> Any:
        """The model's computation: subclasses write it with layers and ``fastnn.ops``.

        Args:
            inputs: the inputs (an array or Tensor, or a list of them).
            training: True while fit trains. Defaults to None.

        Raises:
            NotImplementedError: a subclass that does not define it.
        """
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs, "
                                  f"training=False)")

    # ---- the weights as a whole -----------------------------------------------------------------
    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """A layer of the model by name or by index in its list of layers.

        Args:
            name: the layer's name. Defaults to None.
            index: its index in ``model.layers``. Defaults to None.

        Returns:
            The layer.

        Raises:
            ValueError: neither or both given, or no such layer.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer takes a name or an index")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index} is out of range for "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. The layers are "
                         f"{[layer.name for layer in self.layers]}")

    # ---- description, saving ---------------------------------------------------------------------
    def summary(self, line_length: Optional[int] = None,
                print_fn: Optional[Callable[[str], Any]] = None) -> None:
        """Prints the layers (type, output shape, parameter count; what each is connected to in
        a graph), the totals with their size, and how fit, evaluate and predict run: compiled
        to one C++ call per batch, or op by op with the reason.

        Args:
            line_length: the table's width. Defaults to None (fits the content, up to 98).
            print_fn: called with each line, a str. Defaults to ``print``.
        """
        print_summary(self, line_length=line_length, print_fn=print_fn or print)

    def get_config(self) -> Dict[str, Any]:
        """The model's architecture as a dict (the class method from_config inverts it).

        Raises:
            NotImplementedError: a subclassed model, whose ``call`` is code: define
                get_config (and from_config) to save it.
        """
        raise NotImplementedError(f"{type(self).__name__} is a subclassed model; define "
                                  f"get_config() (and from_config()) to describe it")

    def __reduce__(self) -> Tuple[Callable[[bytes], Any], Tuple[bytes]]:
        # pickle and copy.deepcopy (joblib, Dask, scikit-learn's clone and its fitted estimators)
        # go through fastnn's model file: architecture, weights and compile settings; the
        # optimizer's slots start afresh, as after load_model.
        return model_from_bytes, (model_to_bytes(self),)

    def export(self, filepath: Union[str, os.PathLike[str]], format: str = "onnx",
               opset: Optional[int] = None) -> None:
        """Writes the model for serving, as Keras' ``model.export``: an ONNX file of what
        ``model.predict(x)`` computes, for ONNX Runtime
        (``onnxruntime.InferenceSession(filepath)``), written atomically. Keras' default
        format, a TensorFlow SavedModel, needs TensorFlow: fastnn writes ONNX only, so ONNX is
        the default here. The graph computes in float32: for layers under the mixed_bfloat16
        policy its results differ from what predict gives by the rounding of the GEMMs'
        operands to bfloat16.

        Needs the ``onnx`` package: ``pip install "fastnn[onnx]"``.

        Args:
            filepath: the file to write (``'model.onnx'``).
            format: ``"onnx"``.
            opset: the ONNX opset version. Defaults to None (17; see
                ``models.onnx_export.export_onnx``).

        Raises:
            ValueError: another format, or a model ONNX cannot hold (see ``export_onnx``).
            NotImplementedError: a layer with no ONNX form; the message names it.
            ImportError: onnx is not installed.
        """
        if format not in EXPORTERS:
            raise ValueError(f"fastnn exports format='onnx' only (Keras' 'tf_saved_model' and "
                             f"'openvino' need TensorFlow or OpenVINO). Received: "
                             f"format={format!r}")
        EXPORTERS[format](self, filepath, opset)

    def save(self, filepath: Union[str, os.PathLike[str]]) -> None:
        """Saves architecture, weights and compile settings to one file, atomically: a crash
        never leaves a half-written model. A name ending in ``.keras`` gets Keras 3's format
        (a zip of config.json, metadata.json and model.weights.h5, which
        ``keras.models.load_model`` opens; needs h5py); any other name fastnn's own (an npz
        archive with a JSON description, no pickle; ``.fnn`` by convention).

        Args:
            filepath: the file to write (``'model.fnn'``, ``'model.keras'``); an existing file
                is replaced.

        Raises:
            ValueError: a path ending in .h5 or .hdf5: fastnn does not write Keras' legacy
                HDF5 format; for .keras, a setting Keras' format cannot state.
            ImportError: .keras without h5py (``pip install "fastnn[keras-format]"``).
            OSError: the folder does not exist or cannot be written.
            NotImplementedError: a subclassed model without ``get_config``.
        """
        save_model(self, filepath)
