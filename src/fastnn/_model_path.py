"""The name of a model file: fastnn's own extension, Keras 3's, and Keras' legacy HDF5 ones,
which fastnn does not write. Kept out of models.saving so that callbacks, which sit below the
models package, can check a ModelCheckpoint's path when it is made."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

# fastnn's own files end in .fnn; a name ending in .keras gets Keras 3's format. Keras 2's HDF5
# files (.h5, .hdf5) are refused: a file under their name that Keras cannot open would mislead.
SUFFIX = ".fnn"
KERAS_SUFFIX = ".keras"
_LEGACY_SUFFIXES = (".h5", ".hdf5")


def is_keras_path(filepath: Union[str, os.PathLike[str]]) -> bool:
    """Whether a model file is to be in Keras 3's format: its name ends in .keras."""
    return Path(filepath).suffix == KERAS_SUFFIX


def check_save_path(filepath: Union[str, os.PathLike[str]]) -> None:
    """Refuses a path with one of Keras' legacy HDF5 extensions (.h5, .hdf5, any case), whose
    format fastnn does not write, and .keras in another case than Keras' (Keras loads only
    ``.keras``).

    Args:
        filepath: where a model is to be saved.

    Raises:
        ValueError: the path ends in .h5 or .hdf5, or in .KERAS (say); the message names the
            formats fastnn writes and their extensions, .keras and .fnn.
        ImportError: .keras without h5py, which writes its weights: said now, not after a
            training whose model could then not be saved.
    """
    path = Path(filepath)
    suffix = path.suffix.lower()
    if suffix in _LEGACY_SUFFIXES:
        raise ValueError(f"{os.fspath(filepath)}: fastnn does not write Keras' legacy HDF5 "
                         f"{suffix} files. It writes Keras 3's format to a name ending in "
                         f"{KERAS_SUFFIX} (Keras loads it), and its own (an npz archive with a "
                         f"JSON description) to any other name, {SUFFIX} by convention: save to "
                         f"{os.fspath(path.with_suffix(KERAS_SUFFIX))} or "
                         f"{os.fspath(path.with_suffix(SUFFIX))} instead")
    if suffix == KERAS_SUFFIX and path.suffix != KERAS_SUFFIX:
        raise ValueError(f"{os.fspath(filepath)}: Keras loads a model file only from a name "
                         f"ending in {KERAS_SUFFIX} (lower case): save to "
                         f"{os.fspath(path.with_suffix(KERAS_SUFFIX))}")
    if suffix == KERAS_SUFFIX:
        try:
            import h5py  # noqa: F401  # the save imports it anyway
        except ImportError:
            raise ImportError(f"{os.fspath(filepath)}: Keras' .keras format needs h5py: "
                              f'pip install "fastnn[keras-format]" (or save to '
                              f"{os.fspath(path.with_suffix(SUFFIX))}, fastnn's own format)"
                              ) from None
