"""Reading files that may be hostile (a model or a dataset from someone else): only regular files
are opened, and every size a file declares is checked against the file's real size before
anything that large is allocated.

Private to ``models.saving`` and ``datasets._files``; imports nothing of fastnn, so both can use it.
Errors are ValueError naming the file and the problem; OSError only for a failure of I/O itself.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, Dict, Tuple, Union

import numpy as np
from numpy.lib import format as npy_format

try:
    import fcntl
except ImportError:  # Windows: no FIFOs to block on, and no O_NONBLOCK to clear
    fcntl = None  # type: ignore[assignment]

__all__ = ["open_regular", "is_io_error", "fill", "product", "check_shape", "check_dtype", "Npz",
           "NpyMember", "inflation_limit", "DEFLATE_MAX_RATIO", "CHUNK"]

PathLike = Union[str, "os.PathLike[str]"]

# DEFLATE's densest case: a 258-byte match per 2 bits of code (one bit each for the length and
# distance symbols of a Huffman tree with two leaves), so inflating n bytes gives at most
# 258 * 8 / 2 = 1032 n. No valid stream expands further: a larger declared size is a lie.
DEFLATE_MAX_RATIO = 1032
# Gzip and zip headers and the end of a stream add bytes the ratio does not count.
_SLACK = 1 << 10
# Reading in pieces of this size keeps the buffers besides the result small.
CHUNK = 1 << 20
# numpy writes a header of 128 bytes for any array fastnn reads; numpy itself refuses headers
# over 10,000 bytes unless told otherwise.
_MAX_NPY_HEADER = 10_000
# Beyond numpy's NPY_MAXDIMS (32 before numpy 2, 64 since): np.empty would refuse it anyway.
_MAX_NDIM = 32


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return f"not a regular file (mode {stat.S_IFMT(mode):#o})"


def _refuse_special(path: PathLike, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise ValueError(f"{os.fspath(path)} is {_kind(mode)}, not a regular file")


def open_regular(path: PathLike) -> Tuple[IO[bytes], int]:
    """Opens path for reading if it is a regular file, and returns it with its size.

    Anything else (a FIFO, a device such as /dev/zero, a directory, a socket) raises ValueError
    naming the path and what it is, at once: a FIFO is opened non-blocking, so no writer is
    waited for. The type is checked before opening (a device is never opened) and again on the
    open descriptor (a file swapped in between is caught).

    Raises:
        ValueError: path is not a regular file.
        OSError: path cannot be opened (FileNotFoundError when it does not exist).
    """
    _refuse_special(path, os.stat(path).st_mode)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblock | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        _refuse_special(path, info.st_mode)
        if nonblock and fcntl is not None:  # reads of a regular file then block as usual
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~nonblock)
        return io.FileIO(fd, "rb", closefd=True), info.st_size
    except BaseException:
        os.close(fd)
        raise


def is_io_error(e: BaseException) -> bool:
    """Whether e is a failure of the system's I/O (to pass on as OSError) rather than a sign of a
    malformed file: an OSError with an errno other than EINVAL, which a seek to a negative offset
    read from a corrupt header gives. Errors without an errno (gzip.BadGzipFile) are format
    errors."""
    return isinstance(e, OSError) and e.errno is not None and e.errno != errno.EINVAL


def fill(stream: Any, out: memoryview, where: str, what: str, before: int = 0,
         total: int = -1) -> None:
    """Reads exactly len(out) bytes from stream into out, in pieces of CHUNK bytes (out may be
    one piece of a larger read: ``before`` bytes came earlier, of ``total``, for the message).

    Raises:
        ValueError: the stream ends first ("<where>: <what> ends after ...").
    """
    done, size = 0, len(out)
    while done < size:
        n = stream.readinto(out[done:done + CHUNK])
        if not n:
            raise ValueError(f"{where}: {what} ends after {before + done} of the "
                             f"{size if total < 0 else total} bytes of data its header declares "
                             f"(truncated)")
        done += n


def product(shape: Tuple[int, ...]) -> int:
    """The element count of shape, in Python ints (no int64 wrap-around)."""
    count = 1
    for d in shape:
        count *= d
    return count


def check_shape(shape: Tuple[int, ...], itemsize: int, where: str, what: str) -> int:
    """The byte size of an array of shape, or ValueError when no array can have it: numpy refuses
    a shape whose nonzero sizes multiply past the largest index, even when another size is 0."""
    nonzero = product(tuple(d for d in shape if d)) * max(itemsize, 1)
    if nonzero > sys.maxsize:
        raise ValueError(f"{where}: {what} declares shape {shape}, larger than any array")
    return product(shape) * itemsize


def check_dtype(dtype: np.dtype[Any], kinds: str, where: str, what: str) -> None:
    """Refuses a dtype whose kind is not in kinds ('b' bool, 'i'/'u' integers, 'f' floats)."""
    if dtype.kind not in kinds or dtype.subdtype is not None or dtype.hasobject:
        names = (["bool"] if "b" in kinds else []) + \
            (["integers"] if "i" in kinds or "u" in kinds else []) + \
            (["floats"] if "f" in kinds else [])
        expected = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        raise ValueError(f"{where}: {what} has dtype {dtype}; expected {expected}. "
                         f"Received: dtype={dtype}")


@dataclass
class NpyMember:
    """One .npy array of an npz archive, as its header declares it (already checked against the
    member's size)."""
    shape: Tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool


class Npz:
    """An npz archive read with checks: members stored or deflated only, each member's declared
    size within the file (stored) or within what its compressed bytes can inflate to (deflated),
    and each array's declared shape times item size equal to its member's data size, all before
    an array is allocated.

    Args:
        fh: the open file (from ``open_regular``).
        size: its real size in bytes.
        where: the file's name, for messages.
        what: what the file should be, for messages ("npz file", "fastnn model file").

    Raises:
        ValueError: not a zip file, or a member that breaks one of the rules above.
    """

    def __init__(self, fh: IO[bytes], size: int, where: str, what: str = "npz file") -> None:
        self.where = where
        try:
            self._zip = zipfile.ZipFile(fh)
            infos = self._zip.infolist()
        except Exception as e:
            if isinstance(e, MemoryError) or is_io_error(e):
                raise
            raise ValueError(f"{where}: not a readable {what} ({type(e).__name__}: {e})") from None
        self.members: Dict[str, zipfile.ZipInfo] = {}
        packed = 0
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            member = f"member {info.filename!r}"  # a name from the file: quoted, as is
            if name in self.members:
                raise ValueError(f"{where}: the archive holds {name!r} twice")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"{where}: {member} is compressed with zip method "
                                 f"{info.compress_type}; only stored and deflated members are "
                                 f"read")
            if info.flag_bits & 0x1:
                raise ValueError(f"{where}: {member} is encrypted")
            if info.header_offset < 0 or info.header_offset + info.compress_size > size:
                raise ValueError(f"{where}: {member} declares {info.compress_size} bytes at "
                                 f"offset {info.header_offset}, outside the {size}-byte file")
            limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else \
                inflation_limit(info.compress_size)
            if info.file_size > limit:
                raise ValueError(f"{where}: {member} declares {info.file_size} bytes in "
                                 f"{info.compress_size} bytes of the file, more than they "
                                 f"can hold (at most {limit})")
            packed += info.compress_size
            self.members[name] = info
        # Members that overlap (a zip bomb's trick: many entries over the same bytes) would each
        # pass the test above; together they cannot fit in the file.
        if packed > size:
            raise ValueError(f"{where}: its members declare {packed} bytes in a {size}-byte "
                             f"file (overlapping entries)")
        self._headers: Dict[str, NpyMember] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def header(self, name: str, kinds: str) -> NpyMember:
        """The declared shape and dtype of member ``name`` (its .npy header, read and checked:
        a dtype of one of kinds, and shape x item size equal to the data the member holds).

        Raises:
            ValueError: a missing member, a malformed header, another dtype, or a size that
                does not match.
        """
        if name not in self._headers:
            if name not in self.members:
                raise ValueError(f"{self.where}: the archive has no {name}")
            info = self.members[name]
            with self._open(name) as member:
                shape, fortran, dtype, header_size = self._read_npy_header(member, name)
            nbytes = check_shape(shape, dtype.itemsize, self.where, name)
            if header_size + nbytes != info.file_size:
                raise ValueError(f"{self.where}: {name} declares shape {shape} of {dtype} "
                                 f"({nbytes} bytes) but holds {info.file_size - header_size} "
                                 f"bytes of data")
            self._headers[name] = NpyMember(shape, dtype, fortran)
        found = self._headers[name]
        check_dtype(found.dtype, kinds, self.where, name)
        return found

    def read(self, name: str, kinds: str) -> np.ndarray:
        """Member ``name`` as an array in native byte order: checked by ``header`` first, then
        allocated once and filled in pieces.

        Raises:
            ValueError: what ``header`` raises; data that ends early or fails its CRC.
        """
        h = self.header(name, kinds)
        out = np.empty(h.shape, h.dtype.newbyteorder("="), order="F" if h.fortran_order else "C")
        self.read_into(name, kinds, out)
        return out

    def fits(self, name: str, kinds: str, out: np.ndarray) -> bool:
        """Whether ``read_into`` can fill out: the member's shape, laid out in its order."""
        h = self.header(name, kinds)
        laid_out = out.flags.f_contiguous if h.fortran_order else out.flags.c_contiguous
        return out.shape == h.shape and laid_out and out.flags.writeable

    def read_into(self, name: str, kinds: str, out: np.ndarray) -> None:
        """Reads member ``name`` into out (of its shape and order, see ``fits``), converting to
        out's dtype a piece at a time: no second array of the member's size.

        Raises:
            ValueError: what ``header`` raises; data that ends early or fails its CRC.
        """
        h = self.header(name, kinds)
        if not self.fits(name, kinds, out):
            raise ValueError(f"read_into: {name} has shape {h.shape}; received an array of shape "
                             f"{out.shape}, or not laid out in the member's order")
        flat = out.reshape(-1, order="F" if h.fortran_order else "C")  # a view: out is contiguous
        with self._open(name) as member:
            self._read_npy_header(member, name)
            if h.dtype == out.dtype:
                self._guard(name, lambda: fill(member, flat.view(np.uint8).data,
                                               self.where, name))
            else:  # another type or byte order: through a buffer of CHUNK bytes
                step = max(CHUNK // h.dtype.itemsize, 1)
                buffer = np.empty(min(step, flat.size), h.dtype)
                for start in range(0, flat.size, step):
                    piece = buffer[:min(step, flat.size - start)]
                    self._guard(name, lambda: fill(member, piece.view(np.uint8).data, self.where,
                                                   name, start * h.dtype.itemsize,
                                                   flat.size * h.dtype.itemsize))
                    flat[start:start + piece.size] = piece
            if self._guard(name, lambda: member.read(1)):  # the read to the end checks the CRC
                raise ValueError(f"{self.where}: {name} holds more data than its header declares")

    def _open(self, name: str) -> Any:
        return self._guard(name, lambda: self._zip.open(self.members[name]))

    def _guard(self, name: str, action: Any) -> Any:
        """Runs action, turning the zip module's errors about corrupt data into ValueError."""
        try:
            return action()
        except ValueError as e:
            if str(e).startswith(self.where):
                raise
            raise ValueError(f"{self.where}: {name} is corrupt ({e})") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                OverflowError) as e:
            raise ValueError(f"{self.where}: {name} is corrupt ({type(e).__name__}: {e})") from None
        except OSError as e:
            if is_io_error(e):
                raise
            raise ValueError(f"{self.where}: {name} is corrupt ({e})") from None

    def _read_npy_header(self, member: Any, name: str) -> Tuple[Tuple[int, ...], bool,
                                                                 np.dtype[Any], int]:
        """Reads and checks the .npy header at the start of member: its magic, a version of 1 or
        2 and a length of at most 10,000 bytes, then numpy's parse of the dict in it."""
        def read(n: int) -> bytes:
            data: bytes = self._guard(name, lambda: member.read(n))
            if len(data) != n:
                raise ValueError(f"{self.where}: {name} is not a .npy array (too short)")
            return data

        start = read(8)
        if start[:6] != npy_format.MAGIC_PREFIX:
            raise ValueError(f"{self.where}: {name} is not a .npy array (magic {start[:6]!r})")
        major = start[6]
        if major not in (1, 2):
            raise ValueError(f"{self.where}: {name} is a .npy array of format version "
                             f"{major}.{start[7]}; this reads versions 1 and 2")
        length_bytes = read(2 if major == 1 else 4)
        length = int.from_bytes(length_bytes, "little")
        if length > _MAX_NPY_HEADER:
            raise ValueError(f"{self.where}: {name} has a .npy header of {length} bytes "
                             f"(at most {_MAX_NPY_HEADER})")
        text = io.BytesIO(length_bytes + read(length))
        reader = npy_format.read_array_header_1_0 if major == 1 else \
            npy_format.read_array_header_2_0
        try:
            shape, fortran, dtype = reader(text)
        except Exception as e:  # numpy's ValueError, and whatever literal_eval meets
            if isinstance(e, MemoryError):
                raise
            raise ValueError(f"{self.where}: {name} has a malformed .npy header "
                             f"({type(e).__name__}: {e})") from None
        if len(shape) > _MAX_NDIM or any(not isinstance(d, int) or d < 0 for d in shape):
            raise ValueError(f"{self.where}: {name} declares an invalid shape {shape}")
        return tuple(shape), bool(fortran), dtype, 8 + len(length_bytes) + length


def inflation_limit(compressed_size: int) -> int:
    """The most bytes that compressed_size bytes of gzip or zip data can inflate to, and that
    this machine could hold: DEFLATE's ratio lets 16 MB declare 16 GB, and an array larger than
    the memory (allocated lazily, then filled) would end in the out-of-memory killer rather than
    an error."""
    limit = compressed_size * DEFLATE_MAX_RATIO + _SLACK
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return limit
    return min(limit, memory) if memory > 0 else limit
