"""Hostile dataset files (issue 12, defects 6, 8 and 9): IDX files raw or gzipped and Keras-layout
npz files. Each fails at once with a ValueError naming the file, and a valid file is read in one
allocation of its own size.

The cases that could block or allocate without bound run in a child process (conftest.run_child)
with a timeout and an address-space cap.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import zipfile

import numpy as np
import pytest

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
