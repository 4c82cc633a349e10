"""Finding, reading and downloading the MNIST-format datasets (IDX files or Keras' npz)."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

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


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not on this machine and could not be downloaded.

    A ``FileNotFoundError``, so ``except FileNotFoundError`` catches it too.

    Args:
        *args: the message, as for any exception; fastnn passes one string saying where it
            looked and where to put the files.
    """


def read_idx(path: Union[str, os.PathLike[str]]) -> np.ndarray:
    """Reads an IDX file (gzipped or raw) into a numpy array of its native dtype.

    Args:
        path: the file, a str or path-like; gzip data is recognised by its magic bytes,
            whatever the name.

    Returns:
        An array of the shape in the file's header and its element type (uint8 for MNIST's
        images and labels), in native byte order.

    Raises:
        ValueError: the file is not IDX, or it is truncated or too long for its header.
        OSError: the file cannot be read (FileNotFoundError when it does not exist).
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt gzip data ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the "
                         f"file has {len(raw)} bytes (truncated or corrupt)")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else data


def _idx_path(folder: Path, name: str) -> Optional[Path]:
    """The file for one IDX member in folder: gzipped or raw, '-idx' or '.idx' spelling."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / (stem + ".gz"), folder / stem):
            if candidate.is_file():
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
    """Keras' npz layout: arrays x_train, y_train, x_test, y_test (no pickles)."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in keys if k in f.files}
    except Exception as e:  # a bad zip, a truncated member, pickled objects: all mean unusable
        raise ValueError(f"{path}: not a readable npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path}: npz without {missing}")
    _check_pair(arrays["x_train"], arrays["y_train"], str(path))
    _check_pair(arrays["x_test"], arrays["y_test"], str(path))
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_from(location: Path, npz_name: str) -> Optional[Arrays]:
    """The dataset at location (an npz file, or a folder with IDX files or npz_name), if any."""
    if location.is_file():
        return load_npz(location)
    if location.is_dir():
        if _idx_path(location, IDX_FILES[0]) is not None:
            return load_idx_folder(location)
        if (location / npz_name).is_file():
            return load_npz(location / npz_name)
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
        raise DatasetNotFoundError(
            f"{name} is not on this machine and could not be downloaded ({e}).\n"
            f"Looked in:\n  {looked}\n"
            f"Put the four IDX files ({', '.join(f + '.gz' for f in IDX_FILES)}) or Keras' "
            f"{npz_name} in one of those folders (e.g. {download_dir}), or pass "
            f"load_data(path=...)."
        ) from None
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
