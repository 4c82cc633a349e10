"""scikit-learn estimators around fastnn models, with the names and arguments of Keras 3's
``keras.wrappers``: ``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` go into
a ``Pipeline``, ``GridSearchCV`` or ``cross_val_score`` as any scikit-learn estimator does.

scikit-learn is an optional dependency (``pip install "fastnn[sklearn]"``); this module imports it,
``import fastnn`` does not.

Beyond Keras' wrappers:
    - ``random_state``: an integer makes each fit repeat exactly (weights, shuffling, dropout), in
      any process and next to fits in other threads, as scikit-learn's estimators do.
    - The keyword arguments of a model-building callable and of ``fit`` are parameters of their
      own, ``model_kwargs__<name>`` and ``fit_kwargs__<name>``, for ``set_params`` and a search's
      grid: ``{"model_kwargs__units": [16, 64], "fit_kwargs__epochs": [5, 10]}``.
    - A classifier whose model ends in one sigmoid unit (the book's IMDB model) gets 0/1 targets,
      and one compiled with ``sparse_categorical_crossentropy`` gets class indices; others get
      one-hot rows, as in Keras.
    - ``fit`` is silent unless ``verbose`` is passed (scikit-learn's estimators print nothing).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('fastnn.wrappers needs scikit-learn >= 1.6: pip install "fastnn[sklearn]"'
                      ) from e

from .losses import get as get_loss
from .models import clone_model
from .models.model import Model
from .utils import seeded_rng

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer", "SKLBase"]

# The dict-valued parameters whose entries are parameters too (get_params / set_params).
_KWARG_GROUPS = ("model_kwargs", "fit_kwargs")


def _compiled_clone(model: Model, owner: str) -> Model:
    """The same architecture with fresh weights, compiled as the given model is: the given one is a
    template that no fit trains, so clones of an estimator may share it."""
    if not model.compiled or model.optimizer is None or model._compile_args is None:
        raise ValueError(f"{owner}: the model must be compiled with a loss and an optimizer "
                         f"before it is wrapped (model.compile(optimizer=..., loss=...))")
    clone: Model = clone_model(model)
    loss, loss_weights, metrics = model._compile_args
    optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
    clone.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics)
    return clone


def _seed(random_state: Any) -> Optional[int]:
    """An int seed from scikit-learn's forms of random_state (None, an int, a RandomState)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ValueError(f"random_state must be None, a non-negative integer or a "
                         f"numpy.random.RandomState. Received: random_state={random_state!r}")
    return int(random_state)


class SKLBase(BaseEstimator):  # type: ignore[misc]
    """What the three estimators share: building the model, fitting it, predicting.

    Args:
        model: a compiled fastnn ``Model`` (a template: each fit trains a fresh copy of it, built
            with ``models.clone_model`` and compiled the same way), or a callable that returns
            a compiled model. The callable is called as ``model(X=X, y=y, **model_kwargs)``, with
            the targets as the model will be fitted on (one-hot rows for a classifier), so it
            can size the first and last layers.
        warm_start: when True, a second ``fit`` continues training the fitted model instead of
            starting from a fresh one. Defaults to False.
        model_kwargs: keyword arguments for the callable. Defaults to None.
        fit_kwargs: keyword arguments for ``Model.fit`` (``epochs``, ``batch_size``, ...); those
            given to ``fit`` itself take precedence. Defaults to None.
        random_state: an integer makes fits repeat exactly; None draws from fastnn's global
            generator (``utils.set_random_seed``). Defaults to None.

    Attributes:
        model_: the fitted model.
        history_: ``History.history`` of the last fit, a dict of per-epoch lists.
        n_features_in_: the number of input columns seen by fit.
    """

    model_: Model
    history_: Dict[str, Any]

    def __init__(self, model: Union[Model, Callable[..., Model]], warm_start: bool = False,
                 model_kwargs: Optional[Dict[str, Any]] = None,
                 fit_kwargs: Optional[Dict[str, Any]] = None, random_state: Any = None) -> None:
        # scikit-learn's rule: store the arguments unchanged; they are checked at fit.
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs
        self.random_state = random_state

    # ---- parameters --------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        params: Dict[str, Any] = super().get_params(deep=False)
        if deep:
            for group in _KWARG_GROUPS:
                if isinstance(params[group], dict):  # anything else is refused at fit
                    for name, value in params[group].items():
                        params[f"{group}__{name}"] = value
        return params

    def set_params(self, **params: Any) -> "SKLBase":
        entries: Dict[str, Dict[str, Any]] = {}
        for key in list(params):
            group, sep, name = key.partition("__")
            if sep and group in _KWARG_GROUPS:
                entries.setdefault(group, {})[name] = params.pop(key)
        super().set_params(**params)
        for group, values in entries.items():
            # A new dict: the one given to __init__ may be shared with clones.
            before = getattr(self, group)
            setattr(self, group, {**(before if isinstance(before, dict) else {}), **values})
        return self

    def __sklearn_clone__(self) -> "SKLBase":
        # A Model given as `model` is a template that fit never trains: clones share it rather
        # than copy it (a copy of a model goes through its file's bytes).
        params = dict(self.get_params(deep=False))
        for group in _KWARG_GROUPS:
            if isinstance(params[group], dict):
                params[group] = dict(params[group])
        return type(self)(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True  # scipy.sparse CSR inputs are fitted as sparse rows
        return tags

    # ---- fit and predict ---------------------------------------------------------------------
    def _build(self, X: Any, y: np.ndarray) -> Model:
        name = type(self).__name__
        if isinstance(self.model, Model):
            if self.model_kwargs:
                raise ValueError(f"{name}: model_kwargs are for a callable that builds the model; "
                                 f"the model given is a Model. Received: "
                                 f"model_kwargs={self.model_kwargs!r}")
            return _compiled_clone(self.model, name)
        if not callable(self.model):
            raise TypeError(f"{name}: model must be a fastnn Model or a callable that returns "
                            f"one. Received: model={self.model!r}")
        model = self.model(X=X, y=y, **(self.model_kwargs or {}))
        if not isinstance(model, Model):
            raise TypeError(f"{name}: the model callable must return a fastnn Model; it returned "
                            f"{type(model).__name__}")
        if not model.compiled:
            raise ValueError(f"{name}: the model callable must return a compiled model "
                             f"(model.compile(optimizer=..., loss=...))")
        return model

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Targets as the model is fitted on them (the classifier's labels to one-hot rows)."""
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _fit_targets(self, model: Model, y: np.ndarray) -> np.ndarray:
        return y

    def _validate(self, X: Any, y: Any = None, reset: bool = False) -> Any:
        if y is None:
            return validate_data(self, X, reset=reset, accept_sparse="csr", dtype=np.float32)
        return validate_data(self, X, y, reset=reset, accept_sparse="csr", dtype=np.float32,
                             multi_output=True, y_numeric=True)

    def _check_kwargs(self) -> None:
        name = type(self).__name__
        for group in _KWARG_GROUPS:
            value = getattr(self, group)
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{name}: {group} must be a dict or None. Received: "
                                 f"{group}={value!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> "SKLBase":
        """Fits the model (a fresh one unless ``warm_start`` and already fitted).

        Args:
            X: (n_samples, n_features), array-like or a scipy.sparse matrix.
            y: (n_samples,) or (n_samples, n_outputs) targets.
            sample_weight: per-sample loss weights (n_samples,). Defaults to None.
            **kwargs: for ``Model.fit``, over ``fit_kwargs``.

        Returns:
            self.
        """
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None")
        self._check_kwargs()
        X, y = self._validate(X, y, reset=not (self.warm_start and hasattr(self, "model_")))
        sample_weight = _sample_weight(sample_weight, X.shape[0], name)
        encoded = self._encode(np.asarray(y))
        options = {"verbose": 0, **(self.fit_kwargs or {}), **kwargs}
        with seeded_rng(_seed(self.random_state)):
            model = (self.model_ if self.warm_start and hasattr(self, "model_")
                     else self._build(X, encoded))
            targets = self._fit_targets(model, encoded)
            history = model.fit(X, targets, sample_weight=sample_weight, **options)
        self.model_ = model
        self.history_ = history.history
        return self

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._validate(X)
        out: Any = self.model_.predict(X, verbose=0)
        if not isinstance(out, np.ndarray):
            raise ValueError(f"{type(self).__name__} needs a model with one output; this one has "
                             f"{len(out)}")
        return out


def _sample_weight(sample_weight: Any, n: int, owner: str) -> Optional[np.ndarray]:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float32)
    if w.ndim == 0:
        w = np.full(n, w, dtype=np.float32)  # scikit-learn's convention: one weight for all
    if w.shape != (n,):
        raise ValueError(f"{owner}: sample_weight must have shape ({n},), one weight per sample. "
                         f"Received shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{owner}: sample_weight must be finite and non-negative")
    if not np.any(w > 0):
        raise ValueError(f"{owner}: sample_weight is zero for every sample; nothing to fit")
    return w


def _last_units(model: Model, n_features: int) -> int:
    shape = model.compute_output_shape((None, n_features))
    if not isinstance(shape, tuple) or len(shape) != 2 or shape[1] is None:
        raise ValueError(f"the classifier's model must have one output of shape (batch, classes); "
                         f"its output shape is {shape}")
    return int(shape[1])


def _loss_name(model: Model) -> str:
    assert model._compile_args is not None
    loss = get_loss(model._compile_args[0]) if model._compile_args[0] is not None else ""
    return loss if isinstance(loss, str) else getattr(loss, "__name__", "")


class SKLearnClassifier(ClassifierMixin, SKLBase):  # type: ignore[misc]
    """A fastnn model as a scikit-learn classifier (Keras' ``keras.wrappers.SKLearnClassifier``).

    Labels of any type (ints, strings) are encoded as one-hot rows, ``classes_`` keeps them,
    ``predict`` returns them and ``predict_proba`` the model's probabilities. The callable form
    sizes the last layer from the one-hot targets::

        def build(X, y, units=64):
            inputs = fastnn.Input((X.shape[1],))
            h = fastnn.layers.Dense(units, activation="relu")(inputs)
            outputs = fastnn.layers.Dense(y.shape[1], activation="softmax")(h)
            model = fastnn.Model(inputs, outputs)
            model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
            return model

        clf = SKLearnClassifier(build, model_kwargs={"units": 32}, fit_kwargs={"epochs": 20})

    A model ending in one sigmoid unit is fitted on 0/1 targets (two classes), one compiled with
    ``sparse_categorical_crossentropy`` on class indices.

    Args: as ``SKLBase``.

    Attributes:
        classes_: the labels, sorted; the model's outputs are in this order.
        model_, history_, n_features_in_: as ``SKLBase``.
    """

    classes_: np.ndarray

    def _validate(self, X: Any, y: Any = None, reset: bool = False) -> Any:
        if y is None:
            return super()._validate(X, reset=reset)
        X, y = validate_data(self, X, y, reset=reset, accept_sparse="csr", dtype=np.float32)
        check_classification_targets(y)
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        if self.warm_start and hasattr(self, "model_"):
            unseen = np.setdiff1d(y, self.classes_)
            if unseen.size:
                raise ValueError(f"SKLearnClassifier (warm_start): labels not seen by the first "
                                 f"fit: {unseen[:10].tolist()}")
        else:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"SKLearnClassifier needs samples of at least 2 classes; y has 1 "
                             f"class: {self.classes_.tolist()}")
        index = np.searchsorted(self.classes_, y)
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def _fit_targets(self, model: Model, y: np.ndarray) -> np.ndarray:
        n_classes = y.shape[1]
        units = _last_units(model, self.n_features_in_)
        if units == 1 and n_classes == 2:
            self._output = "sigmoid"
            return y[:, 1:]
        if units != n_classes:
            raise ValueError(f"SKLearnClassifier: the model has {units} outputs for {n_classes} "
                             f"classes; give it one per class (or one sigmoid unit for two)")
        if _loss_name(model) == "sparse_categorical_crossentropy":
            self._output = "sparse"
            return np.asarray(y.argmax(axis=1), dtype=np.float32)
        self._output = "one_hot"
        return y

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class (columns in the order of ``classes_``)."""
        # float64, as scikit-learn's estimators give (its metrics take either).
        p: np.ndarray = self._predict_raw(X).astype(np.float64)
        if getattr(self, "_output", "") == "sigmoid":
            p = np.hstack([1 - p, p])
        return p

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each row."""
        p = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return np.asarray(self.classes_[np.argmax(p, axis=1)])


class SKLearnRegressor(RegressorMixin, SKLBase):  # type: ignore[misc]
    """A fastnn model as a scikit-learn regressor (Keras' ``keras.wrappers.SKLearnRegressor``):
    ``predict`` gives the model's outputs, one-dimensional when ``y`` was."""

    def _encode(self, y: np.ndarray) -> np.ndarray:
        self._y_ndim = y.ndim
        return super()._encode(y)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one output unit per column of y
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """The model's predictions, (n_samples,) for a one-dimensional y."""
        out = self._predict_raw(X).astype(np.float64)  # scikit-learn's regressors give float64
        return out.reshape(-1) if self._y_ndim == 1 and out.shape[1] == 1 else out


class SKLearnTransformer(TransformerMixin, SKLBase):  # type: ignore[misc]
    """A fastnn model as a scikit-learn transformer (Keras' ``keras.wrappers.SKLearnTransformer``):
    ``transform`` gives the model's outputs, an embedding of the inputs for the next step."""

    def transform(self, X: Any) -> np.ndarray:
        """The model's outputs for X, (n_samples, n_outputs)."""
        return self._predict_raw(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # float32 whatever comes in
        tags.target_tags.multi_output = True
        return tags
