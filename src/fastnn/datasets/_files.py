"""Finding, reading and downloading dataset files: the MNIST-format datasets (IDX files or Keras'
npz), and the single files of Keras' other datasets (imdb.npz, reuters.npz, ...)."""

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


def read_npz(path: Path, kinds: Dict[str, str]) -> Dict[str, np.ndarray]:
    """The arrays kinds names from an npz file, each of one of its kinds ('biuf' bool, integers,
    floats; 'O' an object array, rebuilt from its pickle without running code from it).

    Every header is checked (dtype, and declared size against its member and the file) before
    the first array is read.

    Raises:
        ValueError: a missing array, another dtype, a corrupt or hostile file (a pickle naming
            anything but numpy's array globals); the message names the file.
        OSError: the file cannot be read.
    """
    f, size = open_regular(path)
    with f:
        archive = Npz(f, size, str(path), "npz file")
        missing = [k for k in kinds if k not in archive]
        if missing:
            raise ValueError(f"{path}: npz without {missing}")
        for k, kind in kinds.items():
            archive.header(k, kind)
        return {k: archive.read(k, kind) for k, kind in kinds.items()}


def load_npz(path: Path) -> Arrays:
    """Keras' npz layout: arrays x_train, y_train, x_test, y_test of bool, integers or floats.

    Each array's declared size is checked against its member and the file before it is read (no
    pickles, no other element types)."""
    where = str(path)
    arrays = read_npz(path, dict.fromkeys(("x_train", "y_train", "x_test", "y_test"), _NPZ_KINDS))
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


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of the file at path (sha256, or another hashlib algorithm)."""
    h = hashlib.new(algorithm, usedforsecurity=False)  # md5: integrity, not a secret
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, digest: str, timeout: float = 30.0,
             algorithm: str = "sha256") -> Path:
    """Downloads url to dest (atomically: a temporary file renamed once its digest checks out;
    sha256 unless algorithm says otherwise, e.g. md5 where that is all the publisher gives)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = digest_of(tmp, algorithm)
        if got != digest:
            raise ValueError(f"download of {url} is corrupt: {algorithm} {got}, expected {digest}")
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
    fetch(name, {f: (url, "sha256", h) for f, (url, h) in downloads.items()}, download_dir, places,
          f"the four IDX files ({', '.join(f + '.gz' for f in IDX_FILES)}) or Keras' {npz_name}")
    found = load_from(download_dir, npz_name)
    assert found is not None
    return found


def fetch(name: str, downloads: Dict[str, Tuple[str, str, str]], download_dir: Path,
          places: Sequence[Path], files: str) -> None:
    """Downloads each missing file of downloads (file name -> url, algorithm, digest) into
    download_dir, checking its digest; offline, a DatasetNotFoundError that says where the
    files (described by ``files``) may go."""
    try:
        for file_name, (url, algorithm, digest) in downloads.items():
            dest = download_dir / file_name
            if not (dest.is_file() and digest_of(dest, algorithm) == digest):
                download(url, dest, digest, algorithm=algorithm)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        looked = "\n  ".join(str(p) for p in places)
        error = DatasetNotFoundError(
            f"{name} is not on this machine and could not be downloaded ({e}).\n"
            f"Looked in:\n  {looked}\n"
            f"Put {files} in one of those folders (e.g. {download_dir}), or pass "
            f"load_data(path=...).")
        error.looked, error.reason = tuple(places), str(e)
        raise error from None


def find_file(
    name: str,
    path: Union[str, os.PathLike[str]],
    default_name: str,
    url: str,
    digest: Tuple[str, str],
    function: str = "load_data",
) -> Path:
    """The file of a one-file dataset (Keras' imdb.npz, reuters_word_index.json, ...).

    ``path`` is, as in Keras, a file name looked up where Keras caches it, or a path:

    1. an existing file at ``path`` (relative to the working directory, ``~`` expanded) is that
       file, read as it is (no checksum: the user chose it; the readers refuse hostile files);
       a folder holding ``default_name`` gives that file;
    2. a bare file name is looked for in ``$FASTNN_DATA``, ``~/.fastnn/datasets`` and Keras'
       cache ``~/.keras/datasets``, in that order;
    3. failing that, Keras' file is downloaded from url into ``~/.fastnn/datasets`` under that
       name, and kept only if its digest (algorithm, hex) is the published one.

    Raises:
        DatasetNotFoundError: a path with folders that does not exist, a folder without
            default_name, or nothing found and no download; the message says where to put the
            file.
        ValueError: a download whose digest is wrong (nothing is kept).
        TypeError: path is not a str or path-like.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: path must be a file name or path (str or os.PathLike). "
                        f"Received: path={path!r}")
    given = Path(path).expanduser()
    if given.is_dir():
        if (given / default_name).exists():
            return given / default_name
        raise DatasetNotFoundError(f"{name}: the folder {path} has no {default_name}")
    if given.exists() or given.is_symlink():  # a FIFO or a device here is refused by the reader
        return given
    if given.name != os.fspath(path) or not given.name:
        raise DatasetNotFoundError(f"{name}: {path} does not exist. Pass {function}(path=...) an "
                                   f"existing file, or a bare file name to look for in the "
                                   f"data folders (Keras' {default_name} by default)")
    places = search_places(None, [Path.home() / ".keras" / "datasets"])
    for place in places:
        if (place / given.name).exists():
            return place / given.name
    called = "" if given.name == default_name else f", named {given.name}"
    fetch(name, {given.name: (url, *digest)}, fastnn_cache(), places,
          f"Keras' {default_name} (from {url}{called})")
    return fastnn_cache() / given.name


def search_places(sub: Optional[str], extra: Iterable[Path] = ()) -> List[Path]:
    """$FASTNN_DATA (its sub folder, then itself), ~/.fastnn/datasets/sub, then extra places;
    without sub, $FASTNN_DATA and ~/.fastnn/datasets themselves."""
    places: List[Path] = []
    env = os.environ.get("FASTNN_DATA")
    if env:
        places += ([Path(env).expanduser() / sub] if sub else []) + [Path(env).expanduser()]
    places.append(fastnn_cache() / sub if sub else fastnn_cache())
    places += list(extra)
    return places
