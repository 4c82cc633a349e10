"""The name of a model file: fastnn's extension, and Keras' extensions, which fastnn does not
write. Kept out of models.saving so that callbacks, which sit below the models package, can check
a ModelCheckpoint's path when it is made."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

# fastnn's own files end in .fnn. Keras' extensions are refused until fastnn writes those formats:
# a file under their name that Keras cannot open would only mislead.
SUFFIX = ".fnn"
_KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


def check_save_path(filepath: Union[str, os.PathLike[str]]) -> None:
    """Refuses a path with one of Keras' extensions (.h5, .hdf5, .keras, any case), which
    fastnn does not write.

    Args:
        filepath: where a model is to be saved.

    Raises:
        ValueError: the path ends in .h5, .hdf5 or .keras; the message names fastnn's format
            and its extension, .fnn.
    """
    path = Path(filepath)
    suffix = path.suffix.lower()
    if suffix in _KERAS_SUFFIXES:
        raise ValueError(f"{os.fspath(filepath)}: fastnn does not write Keras' {suffix} files; it "
                         f"saves models in its own format (an npz archive with a JSON "
                         f"description), whose files end in {SUFFIX}: save to "
                         f"{os.fspath(path.with_suffix(SUFFIX))} instead")
