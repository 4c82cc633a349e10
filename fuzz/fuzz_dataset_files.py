"""Fuzz target for the dataset readers, ``datasets.read_idx`` (raw and gzipped IDX) and the npz
reader behind ``load_data(path=...)``: every input must load, or fail with a ValueError that
names the file, or with an OSError (fuzz/_common.py has the rule).

The first byte of an input (mod 4) picks how the rest becomes a file:
  0: the rest is an IDX file, as is (raw, or gzip when it starts with gzip's magic);
  1: the rest is an IDX file, which the target gzips (the IDX layer is fuzzed behind gzip);
  2: the rest is a Keras-layout npz file, as is;
  3: the rest is four .npy members (x_train, y_train, x_test, y_test) split on SEPARATOR, which
     the target zips (the .npy layer is fuzzed past the zip layer's CRCs).
Seeds are written at start: small valid files of each kind, several element types.

Run from the repository root, e.g.:
    python fuzz/fuzz_dataset_files.py -runs=100000 -max_total_time=1200
"""

from __future__ import annotations

import io
import os
import sys
from typing import Dict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atheris  # noqa: E402

from _common import SCRATCH, check, forget, run  # noqa: E402

# The readers and the standard library's zip and gzip code under them (imported here first, so
# that they are instrumented; the target uses them too, to wrap its inputs).
forget("zipfile", "gzip")
with atheris.instrument_imports(include=["fastnn", "zipfile", "gzip"],
                                enable_loader_override=False):
    import gzip
    import zipfile

    from fastnn.datasets import _files, read_idx

PATH = SCRATCH / "data"
SEPARATOR = b"#npy#"
KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
             np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def _npz_of_members(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, member in zip(KEYS, data.split(SEPARATOR)):
            z.writestr(f"{key}.npy", member)
    return buf.getvalue()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 4, data[1:]
    if mode == 0:
        PATH.write_bytes(rest)
        check(PATH, read_idx)
    elif mode == 1:
        PATH.write_bytes(gzip.compress(rest, mtime=0))
        check(PATH, read_idx)
    else:
        PATH.write_bytes(rest if mode == 2 else _npz_of_members(rest))
        check(PATH, _files.load_npz)


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[arr.dtype], arr.ndim])
    header += b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _seeds() -> Dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
              "labels": rng.integers(0, 10, 3, dtype=np.uint8),
              "i2": np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
              "f4": np.linspace(-1, 1, 5, dtype=np.float32),
              "f8": np.array(2.5), "i4": np.arange(8, dtype=np.int32).reshape(2, 2, 2),
              "empty": np.zeros((0, 3), np.uint8)}
    seeds = {}
    for name, arr in arrays.items():
        seeds[f"idx-{name}"] = b"\x00" + _idx(arr)
        seeds[f"idx-{name}-gz"] = b"\x00" + gzip.compress(_idx(arr), mtime=0)
        seeds[f"idx-{name}-in-gz"] = b"\x01" + _idx(arr)
    x, y = arrays["images"], arrays["labels"]
    buf = io.BytesIO()
    np.savez(buf, x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    seeds["npz"] = b"\x02" + buf.getvalue()
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=x.astype(np.float32), y_train=y, x_test=x[:1],
                        y_test=y[:1].astype(np.int64))
    seeds["npz-deflated"] = b"\x02" + buf.getvalue()
    seeds["npy-members"] = b"\x03" + SEPARATOR.join(
        _npy(a) for a in (x, y, np.asfortranarray(x[:2]), y[:2].astype(">i4")))
    return seeds


TOKENS = [b"\x1f\x8b\x08", b"\x00\x00\x08\x03", b"\x00\x00\x0d\x01", b"\xff\xff\xff\xff",
          b"\x93NUMPY\x01\x00", b"'descr': '<f4'", b"'fortran_order': True", b"'shape': (",
          b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", SEPARATOR]

if __name__ == "__main__":
    run(test_one_input, _seeds(), TOKENS)
