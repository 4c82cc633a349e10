"""``models.clone_model``: the same architecture with new weights, as Keras'."""

from __future__ import annotations

from typing import Any, Dict, Optional

from .saving import MODEL_CLASSES

__all__ = ["clone_model"]


def clone_model(model: Any, custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """A new model of the same architecture with freshly initialised weights (Keras'
    ``clone_model``: nothing is shared; copy the weights with ``set_weights`` if you want them).

    Args:
        model: a Sequential or functional model.
        custom_objects: your own layer classes by name. Defaults to None.

    Returns:
        The new model, uncompiled.

    Raises:
        ValueError: a subclassed model (its architecture is code).
    """
    cls = MODEL_CLASSES.get(type(model).__name__)
    if cls is None or type(model) is not cls:
        raise ValueError(f"clone_model needs a Sequential or functional model; "
                         f"{type(model).__name__} is a subclassed model")
    return cls.from_config(model.get_config(), custom_objects)
