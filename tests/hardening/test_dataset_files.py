"""Hostile dataset files (issue 12, defects 6, 8 and 9): IDX files raw or gzipped and Keras-layout
npz files. Each fails at once with a ValueError naming the file, and a valid file is read in one
allocation of its own size.

The cases that could block or allocate without bound run in a child process (conftest.run_child)
with a timeout and an address-space cap.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import sys
import zipfile

import numpy as np
import pytest

from fastnn import _safe_read, datasets
from fastnn.datasets import mnist, read_idx

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")
MIB = 1 << 20


def idx_header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D}[arr.dtype]
    return idx_header(code, arr.shape) + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def gzip_of_zeros(header: bytes, mib: int) -> bytes:
    """header followed by ``mib`` MiB of zeros, gzipped: one small member repeated (concatenated
    gzip members are one valid stream), so a GiB of data costs a MiB of file and no time."""
    block = gzip.compress(b"\0" * MIB, compresslevel=9)
    return gzip.compress(header) + block * mib


# ---- defect 6: FIFOs and endless files --------------------------------------------------------

@posix_only
def test_defect6_read_idx_refuses_a_fifo_at_once(tmp_path, run_child):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    got = run_child(f"datasets.read_idx({str(fifo)!r})", timeout=15)
    assert got["outcome"] == f"ValueError: {fifo} is a FIFO, not a regular file"


@posix_only
def test_defect6_read_idx_refuses_dev_zero_instead_of_reading_it_forever(run_child):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    got = run_child("datasets.read_idx('/dev/zero')", budget_mb=200, timeout=30)
    assert got["outcome"] == "ValueError: /dev/zero is a character device, not a regular file"


@posix_only
def test_defect6_a_fifo_named_like_a_dataset_npz_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "mnist.npz")
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        mnist.load_data(tmp_path / "mnist.npz")


# ---- defect 8: gzip bombs and the 2x peak -----------------------------------------------------

def test_defect8_a_gzip_bomb_declaring_more_than_its_size_can_hold_fails_before_inflating(
        tmp_path, run_child):
    """A 1 MB file whose header declares 4 GiB and whose stream inflates to 1 GiB: more than
    1 MB of DEFLATE can hold (1032:1 at most) is refused from the header alone."""
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_of_zeros(idx_header(0x08, (65536, 65536)), 1024))
    assert path.stat().st_size < 2 * MIB
    got = run_child(f"datasets.read_idx({str(path)!r})", budget_mb=300)
    assert got["outcome"].startswith(f"ValueError: {path}: the IDX header declares shape "
                                     f"(65536, 65536)"), got
    assert "more than" in got["outcome"] and got["seconds"] < 1.0


def test_defect8_a_stream_longer_than_its_header_stops_at_the_declared_size(tmp_path, run_child):
    """The header declares 64 MiB (which the file could hold) and the stream goes on for 1 GiB:
    reading stops one byte past the declared size."""
    path = tmp_path / "long.gz"
    path.write_bytes(gzip_of_zeros(idx_header(0x08, (8192, 8192)), 1024))
    got = run_child(f"datasets.read_idx({str(path)!r})", budget_mb=300)
    assert got["outcome"] == (f"ValueError: {path}: the gzip data goes on past the "
                              f"67108876 bytes its IDX header declares"), got


@pytest.mark.skipif(not sys.platform.startswith("linux") or "-fsanitize=" in
                    __import__("fastnn")._C.base_flags,
                    reason="peak RSS from /proc/self/status (Linux), and no sanitizer quarantine")
@pytest.mark.parametrize("code, dtype", [(0x08, "u1"), (0x0C, "i4")])
def test_defect8_a_valid_256_mib_gzip_file_peaks_near_its_own_size(tmp_path, run_child,
                                                                     code, dtype):
    size = 256 * MIB
    shape = (size // np.dtype(dtype).itemsize // 4096, 4096)
    path = tmp_path / "big.gz"
    path.write_bytes(gzip_of_zeros(idx_header(code, shape), size // MIB))
    got = run_child(f"""
        x = datasets.read_idx({str(path)!r})
        result = (x.shape, str(x.dtype), int(x[-1, -1]), x.dtype.isnative)
    """, budget_mb=400)
    assert got["outcome"] == "ok", got
    assert got["result"] == repr((shape, "uint8" if dtype == "u1" else "int32", 0, True))
    grew = (got["peak_rss_kib"] - got["rss_before_kib"]) * 1024
    assert grew < 1.15 * size, f"peak grew by {grew / MIB:.0f} MiB for a {size // MIB} MiB file"


# ---- defect 9: corrupt gzip -------------------------------------------------------------------

def test_defect9_every_byte_flip_of_a_gzip_file_gives_valueerror_or_the_data(tmp_path):
    """Each byte of a small gzipped IDX file, flipped in turn: zlib.error, EOFError and
    BadGzipFile all become ValueError naming the file (a flip in the gzip header's time stamp,
    say, still reads the same data)."""
    arr = np.arange(300, dtype=np.uint8).reshape(3, 10, 10)
    good = gzip.compress(idx_bytes(arr), mtime=0)
    path = tmp_path / "flipped.gz"
    outcomes = {"same": 0, "ValueError": 0}
    for i in range(len(good)):
        for flip in (0x01, 0x80, 0xFF):
            raw = bytearray(good)
            raw[i] ^= flip
            path.write_bytes(bytes(raw))
            try:
                got = read_idx(path)
            except ValueError as e:
                assert str(e).startswith(f"{path}: "), e
                outcomes["ValueError"] += 1
            else:
                np.testing.assert_array_equal(got, arr)
                outcomes["same"] += 1
    assert outcomes["ValueError"] > 0.8 * 3 * len(good), outcomes


def test_defect9_truncated_and_trailing_gzip_data(tmp_path):
    good = gzip.compress(idx_bytes(np.ones((4, 5), np.uint8)))
    for name, raw, problem in [("cut.gz", good[:-5], "corrupt gzip data"),
                               ("header.gz", good[:8], "corrupt gzip data"),
                               ("junk.gz", good + b"junk", "corrupt gzip data")]:
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=f"^{tmp_path / name}: {problem}"):
            read_idx(tmp_path / name)


# ---- raw IDX and npz datasets: sizes checked before reading -----------------------------------

def test_raw_idx_declaring_more_than_the_file_holds_is_refused_from_the_header(tmp_path,
                                                                             run_child):
    """Regression (this passed before too, after reading the file whole): a raw IDX file's
    declared size must be its real size, checked from the header alone; and a shape no array can
    have (before, np.prod wrapped around in int64) is refused as such."""
    path = tmp_path / "raw"
    path.write_bytes(idx_header(0x0D, (100000, 100000, 100)) + b"\0" * 64)
    got = run_child(f"datasets.read_idx({str(path)!r})", budget_mb=100)
    assert got["outcome"] == (f"ValueError: {path}: the IDX header declares shape (100000, "
                              f"100000, 100) of float32 (4000000000016 bytes) but the file has "
                              f"80 bytes (truncated or corrupt)"), got
    path.write_bytes(idx_header(0x0D, (0, 4294967295, 4294967295, 4294967295)))
    with pytest.raises(ValueError, match=re.escape(
            f"{path}: the IDX header declares shape (0, 4294967295, 4294967295, 4294967295), "
            f"larger than any array")):
        read_idx(path)


def test_a_dataset_npz_whose_array_header_declares_more_than_its_data(tmp_path, npy_bytes,
                                                                      run_child):
    """x_train's .npy header declares 10^12 bytes in a member of a few: refused from the header
    (before, numpy tried to allocate it)."""
    path = tmp_path / "mnist.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy",
                   npy_bytes(np.zeros((1, 28, 28), np.uint8), "(1000000000, 1000, 1)"))
        for name in ("y_train", "x_test", "y_test"):
            z.writestr(f"{name}.npy", npy_bytes(np.zeros(1, np.uint8)))
    got = run_child(f"datasets.mnist.load_data({str(path)!r})", budget_mb=100)
    assert got["outcome"].startswith(f"ValueError: {path}: x_train declares shape "
                                     f"(1000000000, 1000, 1)"), got


@pytest.mark.parametrize("bad", [np.ones(3, np.complex64), np.array(["a", "b"]),
                                 np.zeros(2, "datetime64[D]")], ids=lambda a: str(a.dtype))
def test_a_dataset_npz_of_another_element_type_is_refused(tmp_path, bad):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=bad, y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(ValueError, match=re.escape(f"{path}: x_train has dtype {bad.dtype}; "
                                                   f"expected bool, integers or floats")):
        mnist.load_data(path)


# ---- object arrays (Keras' imdb.npz, reuters.npz): pickles, read without running code ---------

def _object_npz(path, pickle_bytes: bytes, shape=(2,), others=None):
    """An npz whose x_train member is a .npy header for an object array of shape, then the given
    pickle; the other IMDB members valid."""
    header = ("{'descr': '|O', 'fortran_order': False, 'shape': %r, }" % (shape,)).encode()
    header = header.ljust(117) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + pickle_bytes
    ok = np.empty(1, dtype=object)
    ok[0] = [1]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", member)
        for name, arr in (others or {"y_train": np.zeros(2, np.int64), "x_test": ok,
                                     "y_test": np.zeros(1, np.int64)}).items():
            buf = io.BytesIO()
            np.save(buf, arr)
            z.writestr(f"{name}.npy", buf.getvalue())
    return path


class _RunsAShellCommand:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __reduce__(self):
        return (exec, ("import os; os.system('touch /tmp/fastnn-should-not-exist')",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_pickle_whose_reduce_runs_a_command_is_refused_before_anything_runs(tmp_path, protocol):
    marker = tmp_path / "ran"
    payload = _RunsAShellCommand()
    payload.marker = str(marker)
    x = np.empty(2, dtype=object)
    x[0], x[1] = [1, 2], payload
    path = _object_npz(tmp_path / "imdb.npz", pickle.dumps(x, protocol=protocol))
    with pytest.raises(ValueError, match=re.escape(f"{path}: x_train: refused to load the global "
                                                   f"'{os.system.__module__}.system'")):
        datasets.imdb.load_data(path)
    assert not marker.exists()


@pytest.mark.parametrize("obj, match", [
    (_Exec(), "refused to load the global 'builtins.exec'"),
    ([[1, 2], [3]], "the pickle holds a list, not a numpy array"),
    (np.arange(2), "the pickled array is not an object array"),
    (np.array([[1], [2, 3], [4]], dtype=object),
     r"the pickled array's shape is not the \(2,\) that the .npy header declares"),
    (np.array(["a", "b"], dtype=object), "sequence 0 is a str; expected a list"),
    (np.array([1, 2], dtype=object), "sequence 0 is a int; expected a list"),
])
def test_pickles_of_anything_but_an_object_array_of_lists_are_refused(tmp_path, obj, match):
    path = _object_npz(tmp_path / "imdb.npz", pickle.dumps(obj, protocol=4))
    with pytest.raises(ValueError, match=match) as info:
        datasets.imdb.load_data(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("raw, match", [
    # BUILD on numpy.ndarray's stand-in: would set attributes on an object every load shares
    (b"\x80\x04cnumpy\nndarray\n}(X\x01\x00\x00\x00aK\x01ub.", "BUILD applied to _NdarrayType"),
    # _reconstruct called on something that is not numpy.ndarray
    (b"\x80\x04cnumpy.core.multiarray\n_reconstruct\nK\x01K\x02K\x03\x87R.", "_reconstruct called"),
    # a persistent id: pickle's hook for outside objects, not set
    (b"\x80\x04X\x01\x00\x00\x00a\x94Q.", "not a readable pickle"),
    # the stream ends before STOP
    (b"\x80\x04]\x94(K\x01", "not a readable pickle"),
])
def test_malformed_or_tricky_pickles(tmp_path, raw, match):
    path = _object_npz(tmp_path / "imdb.npz", raw)
    with pytest.raises(ValueError, match=match):
        datasets.imdb.load_data(path)


def test_older_numpy_spellings_of_an_object_array_are_read(tmp_path):
    """numpy < 2 names numpy.core.multiarray (here put in the text of protocols 0 and 2, where
    names end at a newline); protocol 2 spells bytes as _codecs.encode (numpy < 1.17 on Python
    3); numpy 2 writes protocol 3 or 4 with numpy._core.multiarray."""
    x = np.empty(2, dtype=object)
    x[0], x[1] = [1, 70000], [5]
    for protocol in (0, 2, 3, 4):
        raw = pickle.dumps(x, protocol=protocol)
        if protocol <= 2:
            assert b"numpy._core.multiarray\n" in raw
            raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        path = _object_npz(tmp_path / f"p{protocol}.npz", raw)
        (x_train, _), _ = datasets.imdb.load_data(path, start_char=None, index_from=0,
                                                  num_words=10**6, seed=0)
        assert sorted(x_train.tolist()) == [[1, 70000], [5]]


def test_a_pickle_too_large_for_the_memory_is_refused_before_unpickling(tmp_path, monkeypatch):
    x = np.empty(2, dtype=object)
    x[0], x[1] = list(range(1000)), [5]
    path = _object_npz(tmp_path / "imdb.npz", pickle.dumps(x, protocol=4))
    monkeypatch.setattr(_safe_read, "memory_size", lambda: 128 * 1000)  # a 1000-byte budget
    with pytest.raises(ValueError, match="could take more memory than this machine has"):
        datasets.imdb.load_data(path)


@posix_only
def test_a_fifo_named_like_imdb_npz_is_not_opened(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "imdb.npz")
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        datasets.imdb.load_data(tmp_path / "imdb.npz")
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        datasets.imdb.load_data()


@pytest.mark.parametrize("raw, match", [
    # LONG_BINPUT 2**31 - 1: CPython's unpickler would grow its memo to 2**32 entries (32 GB),
    # zeroed, from five bytes
    (b"\x80\x02]r\xff\xff\xff\x7f.", r"memo entry 2147483647 \(LONG_BINPUT"),
    # PUT, protocol 0's spelling, with a decimal index
    (b"(lp99999999999\n.", r"memo entry 99999999999 \(PUT"),
    # a frame, a bytes object and a string longer than the pickle
    (b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00]\x94.", "declares a frame of 4294967295"),
    (b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\x00\x00.", "BINBYTES8 at byte 2"),
    (b"\x80\x04X\xff\xff\xff\x7f.", "BINUNICODE at byte 2"),
    (b"\x80\x04\xff.", "unknown opcode 0xff at byte 2"),
])
def test_pickles_that_would_make_the_unpickler_allocate_more_than_their_size(
        tmp_path, run_child, raw, match):
    path = _object_npz(tmp_path / "imdb.npz", raw)
    got = run_child(f"datasets.imdb.load_data({str(path)!r})", budget_mb=200)
    assert got["outcome"].startswith(f"ValueError: {path}: x_train: "), got
    assert re.search(match, got["outcome"]), got
