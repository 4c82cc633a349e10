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
import pickle
import pickletools
import re
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
           "NpyMember", "inflation_limit", "memory_size", "DEFLATE_MAX_RATIO", "PICKLE_MAX_RATIO",
           "CHUNK"]

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
# The most memory that one byte of pickle can make the unpickler take: EMPTY_SET then APPEND,
# 2 bytes, make a new empty set (216 bytes in CPython) and a list slot (8); other opcodes make less
# (an empty dict 36x, an int at most 12x). An object array whose pickle could exceed the memory
# this way is refused before it is read.
PICKLE_MAX_RATIO = 128
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
    """Refuses a dtype whose kind is not in kinds ('b' bool, 'i'/'u' integers, 'f' floats, 'O'
    plain Python objects, which an npz stores as a pickle)."""
    if dtype.hasobject:
        ok = "O" in kinds and dtype == np.dtype(object)
    else:
        ok = dtype.kind in kinds and dtype.subdtype is None
    if not ok:
        names = (["bool"] if "b" in kinds else []) + \
            (["integers"] if "i" in kinds or "u" in kinds else []) + \
            (["floats"] if "f" in kinds else []) + \
            (["objects"] if "O" in kinds else [])
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
        a dtype of one of kinds, and shape x item size equal to the data the member holds; for
        an object array, whose data is a pickle of any size, a shape that an array can have).

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
            if not dtype.hasobject and header_size + nbytes != info.file_size:
                raise ValueError(f"{self.where}: {name} declares shape {shape} of {dtype} "
                                 f"({nbytes} bytes) but holds {info.file_size - header_size} "
                                 f"bytes of data")
            self._headers[name] = NpyMember(shape, dtype, fortran)
        found = self._headers[name]
        check_dtype(found.dtype, kinds, self.where, name)
        return found

    def read(self, name: str, kinds: str) -> np.ndarray:
        """Member ``name`` as an array in native byte order: checked by ``header`` first, then
        allocated once and filled in pieces. An object array (only with 'O' in kinds) is
        rebuilt from its pickle by ``unpickle_array``, which runs no code from the file.

        Raises:
            ValueError: what ``header`` raises; data that ends early or fails its CRC; for an
                object array, what ``unpickle_array`` raises, or a pickle too large to unpickle
                in this machine's memory.
        """
        h = self.header(name, kinds)
        if h.dtype.hasobject:
            return self._read_pickled(name, h)
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
        if h.dtype.hasobject:
            raise ValueError(f"read_into: {name} is an object array; read it with read()")
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

    def _read_pickled(self, name: str, h: NpyMember) -> np.ndarray:
        info = self.members[name]
        budget = memory_size() // PICKLE_MAX_RATIO
        if budget and info.file_size > budget:
            raise ValueError(f"{self.where}: {name} is an object array of {info.file_size} bytes "
                             f"of pickle; unpickled it could take more memory than this machine "
                             f"has (at most {budget} bytes of pickle are read)")
        with self._open(name) as member:
            self._read_npy_header(member, name)
            data: bytes = self._guard(name, lambda: member.read())  # to the end: the CRC checked
        return unpickle_array(data, h.shape, self.where, name)

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


def memory_size() -> int:
    """This machine's physical memory in bytes, or 0 when the system does not say (Windows)."""
    try:
        return max(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), 0)
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return 0


def inflation_limit(compressed_size: int) -> int:
    """The most bytes that compressed_size bytes of gzip or zip data can inflate to, and that
    this machine could hold: DEFLATE's ratio lets 16 MB declare 16 GB, and an array larger than
    the memory (allocated lazily, then filled) would end in the out-of-memory killer rather than
    an error."""
    limit = compressed_size * DEFLATE_MAX_RATIO + _SLACK
    memory = memory_size()
    return min(limit, memory) if memory > 0 else limit


# ---- object arrays: a pickle read without running anything from it ------------------------------
#
# np.save stores an object array as a pickle: ``_reconstruct(ndarray, (0,), b'b')`` makes an empty
# array, ``dtype('O8', False, True)`` its element type (then BUILD with the dtype's state), and a
# BUILD with ``(1, shape, dtype, fortran_order, [the elements, in C order])`` fills it. Those three
# globals are all such a pickle names (``numpy.core.multiarray`` before numpy 2, and in Keras'
# files written by Python 2; ``numpy._core.multiarray`` since); lists, ints, strings and tuples are
# opcodes of their own. Protocol 2 has no opcode for bytes, so Python 3 writes the b'b' as
# ``_codecs.encode('b', 'latin1')`` (numpy < 1.17 saved with protocol 2): a fourth name. The
# unpickler admits these names only, and binds them not to numpy's functions but to the
# stand-ins below: a hostile pickle can then call nothing but them, and
# numpy's ``__setstate__`` never sees its arguments. The array is built here, from plain Python
# data, once the shape, dtype and element count are checked.
#
# Before the unpickler runs, one pass over the opcodes (_check_opcodes) refuses what could make
# CPython's unpickler allocate far more than the pickle's size: a memo index (PUT, BINPUT,
# LONG_BINPUT) makes it grow its memo array to twice that index and zero it, so five bytes can
# ask for 64 GB; a legitimate pickle numbers its memo entries from 0, fewer than its bytes.

# A run of the small-int opcodes (BININT1, BININT2, BININT), which make up most of a pickled
# list of word indices: skipped in one regex match instead of one step each.
_INT_RUN = re.compile(rb"(?:K.|M..|J....)+", re.DOTALL)
_OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


def _check_opcodes(data: bytes, prefix: str) -> None:
    """Walks the opcodes of the pickle in data (as pickletools reads them, so as the unpickler
    does) up to STOP: every opcode known, every length and memo index within the data."""
    stream = io.BytesIO(data)
    pos, size = 0, len(data)
    while pos < size:
        run = _INT_RUN.match(data, pos)
        if run:
            pos = run.end()
            continue
        op = _OPCODES.get(data[pos:pos + 1])
        if op is None:
            raise ValueError(f"{prefix}: not a readable pickle (unknown opcode {data[pos]:#04x} "
                             f"at byte {pos})")
        pos += 1
        if op.arg is not None and op.arg.n > 0 and op.name not in _MEMO_PUTS + ("FRAME",):
            pos += op.arg.n  # a fixed-size argument: nothing in it to check
        elif op.arg is not None:
            stream.seek(pos)
            try:  # counted strings are checked against what remains, without reading more
                arg = op.arg.reader(stream)
            except ValueError as e:
                raise ValueError(f"{prefix}: not a readable pickle ({op.name} at byte "
                                 f"{pos - 1}: {e})") from None
            pos = stream.tell()
            if op.name in _MEMO_PUTS and not 0 <= arg < size:
                raise ValueError(f"{prefix}: the pickle stores memo entry {arg} ({op.name} at "
                                 f"byte {pos}), more than a {size}-byte pickle can number")
            if op.name == "FRAME" and arg > size - pos:
                raise ValueError(f"{prefix}: the pickle declares a frame of {arg} bytes with "
                                 f"{size - pos} left")
        if op.name == "STOP":
            return

_RECONSTRUCT_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


class _Stub:
    """Base of the stand-ins: no instance dict, and BUILD on a global is refused (it would set
    attributes on the very object every later load uses)."""
    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError(f"BUILD applied to {type(self).__name__}, which is not how "
                                     f"numpy pickles an array")


class _NdarrayType(_Stub):
    """Stands for numpy.ndarray, which a pickle only passes to _reconstruct (never calls)."""
    __slots__ = ()


class _DtypeStub:
    """A dtype as the pickle describes it: its name (``'O8'``) and, after BUILD, its state."""
    __slots__ = ("name", "state")

    def __init__(self, name: Any) -> None:
        self.name = name
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _DtypeFactory(_Stub):
    """Stands for numpy.dtype: ``dtype(name, align, copy)`` gives a _DtypeStub."""
    __slots__ = ()

    def __call__(self, name: Any, align: Any = False, copy: Any = False) -> _DtypeStub:
        return _DtypeStub(name)


class _ArrayStub:
    """The array that _reconstruct starts; BUILD gives it its state, checked afterwards."""
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        if self.state is not None:
            raise pickle.UnpicklingError("BUILD applied twice to one array")
        self.state = state


class _Reconstruct(_Stub):
    """Stands for numpy's _reconstruct(ndarray, (0,), b'b'): gives an _ArrayStub."""
    __slots__ = ()

    def __call__(self, subtype: Any, shape: Any, tag: Any) -> _ArrayStub:
        if not isinstance(subtype, _NdarrayType):
            raise pickle.UnpicklingError("_reconstruct called on something other than "
                                         "numpy.ndarray")
        return _ArrayStub()


class _Encode(_Stub):
    """Stands for _codecs.encode(text, 'latin1'), protocol 2's spelling of a bytes object."""
    __slots__ = ()

    def __call__(self, text: Any, encoding: Any = "utf-8") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError("_codecs.encode called other than as protocol 2 "
                                         "spells bytes")
        return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """Admits the globals of a numpy object array's pickle, each bound to a fresh stand-in."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _RECONSTRUCT_MODULES and name == "_reconstruct":
            return _Reconstruct()
        if module == "numpy" and name == "ndarray":
            return _NdarrayType()
        if module == "numpy" and name == "dtype":
            return _DtypeFactory()
        if module == "_codecs" and name == "encode":
            return _Encode()
        global_name = f"{module}.{name}"
        if len(global_name) > 100:
            global_name = global_name[:100] + "..."
        raise _RefusedGlobal(f"refused to load the global {global_name!r}: only numpy arrays of "
                             f"plain Python values are read, and loading anything else from a "
                             f"pickle can run code")


class _RefusedGlobal(pickle.UnpicklingError):
    pass


def unpickle_array(data: bytes, shape: Tuple[int, ...], where: str, what: str) -> np.ndarray:
    """The object array pickled in data, as np.save writes it, without running code from it.

    Only the globals of an array's pickle (see above) are admitted, bound to stand-ins; the
    elements are whatever pickle's own opcodes build (lists, ints, floats, strings, bytes,
    tuples, dicts, sets, None, bools).

    Args:
        data: the pickle, all of it (what follows the .npy header).
        shape: the shape the .npy header declares; the pickle's array must have it.
        where: the file's name, for messages.
        what: the member's name, for messages.

    Returns:
        An object array of ``shape``, filled in C order.

    Raises:
        ValueError: any other global (nothing is called), a pickle that is not one object array
            of ``shape``, a malformed pickle, or one that could make the unpickler allocate more
            than its size (a memo index beyond it); the message names the file and the member.
    """
    prefix = f"{where}: {what}"
    _check_opcodes(data, prefix)
    stream = io.BytesIO(data)
    try:
        # latin1: Python 2's str (Keras' older files) becomes str without a decoding error.
        result = _ArrayUnpickler(stream, encoding="latin1").load()
    except _RefusedGlobal as e:
        raise ValueError(f"{prefix}: {e}") from None
    except Exception as e:
        if isinstance(e, MemoryError) or is_io_error(e):
            raise
        raise ValueError(f"{prefix}: not a readable pickle of a numpy array "
                         f"({type(e).__name__}: {e})") from None
    if stream.tell() != len(data):
        raise ValueError(f"{prefix}: {len(data) - stream.tell()} bytes follow the pickle's end")
    if not isinstance(result, _ArrayStub) or not isinstance(result.state, tuple):
        raise ValueError(f"{prefix}: the pickle holds a {type(result).__name__}, not a numpy "
                         f"array")
    state = result.state
    if len(state) == 5:
        if state[0] != 1:
            raise ValueError(f"{prefix}: numpy array state of version {state[0]!r}; expected 1")
        state = state[1:]
    if len(state) != 4:
        raise ValueError(f"{prefix}: a numpy array state of {len(result.state)} items; expected "
                         f"4 or 5")
    got_shape, dtype, _, data = state
    if not isinstance(dtype, _DtypeStub) or dtype.name not in ("O8", "O4", b"O8", b"O4"):
        raise ValueError(f"{prefix}: the pickled array is not an object array")
    if not isinstance(got_shape, tuple) or got_shape != shape or \
            not all(type(d) is int for d in got_shape):
        raise ValueError(f"{prefix}: the pickled array's shape is not the {shape} that the .npy "
                         f"header declares")
    if not isinstance(data, list) or len(data) != product(shape):
        raise ValueError(f"{prefix}: the pickled array holds "
                         f"{len(data) if isinstance(data, list) else type(data).__name__} "
                         f"elements; its shape {shape} needs {product(shape)}")
    flat = np.empty(len(data), dtype=object)
    for i, element in enumerate(data):  # one by one: a slice assignment would unpack lists
        flat[i] = element
    return flat.reshape(shape)
