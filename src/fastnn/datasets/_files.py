"""Finding, reading and downloading the MNIST-format datasets (IDX files or Keras' npz)."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import IO, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._safe_read import (Npz, check_shape, fill, inflation_limit, is_io_error, open_regular,
                          product)

Arrays = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]

# The four files of an MNIST-format dataset, in the order load_data returns them.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# IDX type codes (the third byte of the magic number) and their big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# The IDX header can declare up to 255; numpy 1 arrays take 32.
_MAX_IDX_DIMS = 32
# The element types a dataset npz may hold: bool, integers, floats.
_NPZ_KINDS = "biuf"


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on this machine and could not be downloaded.

    A ``FileNotFoundError``, so ``except FileNotFoundError`` catches it too.

    Args:
        *args: the message, as for any exception; fastnn passes one string saying where it
            looked and where to put the files.

    Attributes:
        looked: the places searched, for a program to word its own message (the command line
            names ``--dataset PATH`` where the message names ``load_data(path=...)``); empty
            when an explicit path was given.
        reason: why the download failed; empty when none was tried.
    """

    looked: Tuple[Path, ...] = ()
    reason: str = ""


def read_idx(path: Union[str, os.PathLike[str]]) -> np.ndarray:
    """Reads an IDX file (gzipped or raw) into a numpy array of its native dtype.

    The header is read first and the size it declares checked before anything is allocated:
    against the file's size for a raw file, and against the most that the file's bytes can
    inflate to for a gzipped one, which is then inflated piece by piece into the one array.

    Args:
        path: the file, a str or path-like; gzip data is recognised by its magic bytes,
            whatever the name.

    Returns:
        An array of the shape in the file's header and its element type (uint8 for MNIST's
        images and labels), in native byte order.

    Raises:
        ValueError: the file is not IDX, is not a regular file (a FIFO, a device), is corrupt
            gzip, or is truncated or too long for its header; the message names the file.
        OSError: the file cannot be read (FileNotFoundError when it does not exist).
    """
    where = os.fspath(path)
    f, size = open_regular(path)
    with f:
        gzipped = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        if not gzipped:
            return _read_idx_stream(f, size, where)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _read_idx_stream(stream, None, where, inflation_limit(size))
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            if is_io_error(e):
                raise
            raise ValueError(f"{where}: corrupt gzip data ({type(e).__name__}: {e})") from None


def _read_idx_stream(stream: Union[IO[bytes], gzip.GzipFile], size: Optional[int], where: str,
                     limit: int = 0) -> np.ndarray:
    """The IDX array in stream: a raw file of size bytes, or (size None) inflating data that can
    hold at most limit bytes."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise ValueError(f"{where}: not an IDX file (bad magic number {magic.hex()})")
    dims = stream.read(4 * magic[3])
    if len(dims) < 4 * magic[3]:
        raise ValueError(f"{where}: truncated IDX header")
    shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, len(dims), 4))
    if len(shape) > _MAX_IDX_DIMS:
        raise ValueError(f"{where}: the IDX header declares {len(shape)} dimensions; numpy "
                         f"arrays have at most {_MAX_IDX_DIMS}")
    dtype = np.dtype(_IDX_DTYPES[magic[2]])
    expected = 4 + len(dims) + check_shape(shape, dtype.itemsize, where, "the IDX header")
    declared = f"the IDX header declares shape {shape} of {dtype.name} ({expected} bytes)"
    if size is not None and expected != size:
        raise ValueError(f"{where}: {declared} but the file has {size} bytes (truncated or "
                         f"corrupt)")
    if size is None and expected > limit:
        raise ValueError(f"{where}: {declared}, more than the file's gzip data can inflate to "
                         f"or this machine can hold (at most {limit} bytes)")
    flat = np.empty(product(shape), dtype)
    fill(stream, flat.view(np.uint8).data, where,
         "the file" if size is not None else "the gzip data")
    if stream.read(1):
        raise ValueError(f"{where}: the {'file' if size is not None else 'gzip data'} goes on "
                         f"past the {expected} bytes its IDX header declares")
    data = flat.reshape(shape)
    # Big-endian on disk: swapped in place, so a large file is never held twice.
    return data.byteswap(inplace=True).view(dtype.newbyteorder("=")) if dtype.itemsize > 1 \
        else data


def _idx_path(folder: Path, name: str) -> Optional[Path]:
    """The file for one IDX member in folder: gzipped or raw, '-idx' or '.idx' spelling."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / (stem + ".gz"), folder / stem):
            if candidate.exists():
                return candidate
    return None


def _check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{where}: expected images (n, rows, cols) and labels (n,); "
                         f"got {images.shape} and {labels.shape}")


def load_idx_folder(folder: Path) -> Arrays:
    """The four IDX files of a dataset in folder."""
    paths: List[Path] = []
    for name in IDX_FILES:
        p = _idx_path(folder, name)
        if p is None:
            raise DatasetNotFoundError(f"{folder}: missing {name}(.gz)")
        paths.append(p)
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    _check_pair(x_train, y_train, str(folder))
    _check_pair(x_test, y_test, str(folder))
    return (x_train, y_train), (x_test, y_test)


def load_npz(path: Path) -> Arrays:
    """Keras' npz layout: arrays x_train, y_train, x_test, y_test of bool, integers or floats.

    Each array's declared size is checked against its member and the file before it is read (no
    pickles, no other element types)."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    where = str(path)
    f, size = open_regular(path)
    with f:
        archive = Npz(f, size, where, "npz file")
        missing = [k for k in keys if k not in archive]
        if missing:
            raise ValueError(f"{path}: npz without {missing}")
        for k in keys:  # every header checked before the first array is read
            archive.header(k, _NPZ_KINDS)
        arrays = {k: archive.read(k, _NPZ_KINDS) for k in keys}
    _check_pair(arrays["x_train"], arrays["y_train"], where)
    _check_pair(arrays["x_test"], arrays["y_test"], where)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_from(location: Path, npz_name: str) -> Optional[Arrays]:
    """The dataset at location (an npz file, or a folder with IDX files or npz_name), if any.

    Whatever exists under an expected name is read, so a FIFO or a device there is refused by
    name (ValueError) instead of being passed over in silence."""
    if location.is_dir():
        if _idx_path(location, IDX_FILES[0]) is not None:
            return load_idx_folder(location)
        if (location / npz_name).exists():
            return load_npz(location / npz_name)
        return None
    if location.exists():
        return load_npz(location)
    return None


def fastnn_cache() -> Path:
    return Path.home() / ".fastnn" / "datasets"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, sha256: str, timeout: float = 30.0) -> Path:
    """Downloads url to dest (atomically: a temporary file renamed once its sha256 checks out)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = sha256_of(tmp)
        if got != sha256:
            raise ValueError(f"download of {url} is corrupt: sha256 {got}, expected {sha256}")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def find_or_download(
    name: str,
    path: Optional[Union[str, os.PathLike[str]]],
    npz_name: str,
    places: Sequence[Path],
    downloads: Dict[str, Tuple[str, str]],
    download_dir: Path,
) -> Arrays:
    """Loads a dataset from path, else the first of places that has it, else downloads it.

    downloads maps file names (saved under download_dir) to (url, sha256).
    """
    if path is not None:
        found = load_from(Path(path).expanduser(), npz_name)
        if found is None:
            raise DatasetNotFoundError(
                f"{name}: {path} is neither an npz file nor a folder with the four IDX files "
                f"({', '.join(f + '.gz' for f in IDX_FILES)}) or {npz_name}")
        return found
    for place in places:
        found = load_from(place, npz_name)
        if found is not None:
            return found
    try:
        for file_name, (url, sha256) in downloads.items():
            dest = download_dir / file_name
            if not (dest.is_file() and sha256_of(dest) == sha256):
                download(url, dest, sha256)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        looked = "\n  ".join(str(p) for p in places)
        error = DatasetNotFoundError(
            f"{name} is not on this machine and could not be downloaded ({e}).\n"
            f"Looked in:\n  {looked}\n"
            f"Put the four IDX files ({', '.join(f + '.gz' for f in IDX_FILES)}) or Keras' "
            f"{npz_name} in one of those folders (e.g. {download_dir}), or pass "
            f"load_data(path=...).")
        error.looked, error.reason = tuple(places), str(e)
        raise error from None
    found = load_from(download_dir, npz_name)
    assert found is not None
    return found


def search_places(sub: str, extra: Iterable[Path] = ()) -> List[Path]:
    """$FASTNN_DATA (itself and its sub folder), ~/.fastnn/datasets/sub, then extra places."""
    places: List[Path] = []
    env = os.environ.get("FASTNN_DATA")
    if env:
        places += [Path(env).expanduser() / sub, Path(env).expanduser()]
    places.append(fastnn_cache() / sub)
    places += list(extra)
    return places
