"""Fuzz target for the dataset readers, ``datasets.read_idx`` (raw and gzipped IDX), the npz
reader behind ``load_data(path=...)`` and ``imdb.load_data``, whose object arrays are pickles:
every input must load, or fail with a ValueError that names the file, or with an OSError
(fuzz/_common.py has the rule).

The first byte of an input (mod 6) picks how the rest becomes a file:
  0: the rest is an IDX file, as is (raw, or gzip when it starts with gzip's magic);
  1: the rest is an IDX file, which the target gzips (the IDX layer is fuzzed behind gzip);
  2: the rest is a Keras-layout npz file, as is;
  3: the rest is four .npy members (x_train, y_train, x_test, y_test) split on SEPARATOR, which
     the target zips (the .npy layer is fuzzed past the zip layer's CRCs);
  4: the rest is four .npy members as in 3, read by imdb.load_data (object arrays of lists);
  5: the rest is the pickle of x_train after a valid .npy header of an object array of 2, the
     other members valid, read by imdb.load_data (the unpickler fuzzed directly).
Seeds are written at start: small valid files of each kind, several element types.

Run from the repository root, e.g.:
    python fuzz/fuzz_dataset_files.py -runs=100000 -max_total_time=1200
"""

from __future__ import annotations

import io
import os
import pickle
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

    from fastnn.datasets import _files, imdb, read_idx

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


def _object_npy(pickled: bytes, shape: str = "(2,)") -> bytes:
    header = ("{'descr': '|O', 'fortran_order': False, 'shape': %s, }" % shape).encode()
    header = header.ljust(117) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + pickled


def _sequences(*rows: list) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = row
    return out


# The members of a valid imdb.npz besides x_train, for mode 5.
IMDB_REST = (np.array([0, 1]), _sequences([1, 2], [3]), np.array([1, 0]))


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 6, data[1:]
    if mode == 5:
        rest = SEPARATOR.join([_object_npy(rest)] + [_npy(a) for a in IMDB_REST])
    if mode >= 4:
        PATH.write_bytes(_npz_of_members(rest))
        check(PATH, imdb.load_data)
        return
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
    reviews = _sequences([1, 14, 22, 16], [1, 194, 1153, 194, 8255, 78, 228, 5])
    seeds["imdb"] = b"\x04" + SEPARATOR.join(_npy(a) for a in (reviews,) + IMDB_REST)
    seeds["imdb-2d"] = b"\x04" + SEPARATOR.join(
        _npy(a) for a in (np.arange(6).reshape(2, 3), np.array([0, 1]),
                          np.arange(4).reshape(1, 4), np.array([1])))
    for protocol in (2, 3, 4):
        seeds[f"pickle-{protocol}"] = b"\x05" + pickle.dumps(reviews, protocol=protocol)
    return seeds


TOKENS = [b"\x1f\x8b\x08", b"\x00\x00\x08\x03", b"\x00\x00\x0d\x01", b"\xff\xff\xff\xff",
          b"\x93NUMPY\x01\x00", b"'descr': '<f4'", b"'fortran_order': True", b"'shape': (",
          b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", SEPARATOR, b"'descr': '|O'",
          b"cnumpy\nndarray\n", b"cnumpy\ndtype\n", b"cnumpy.core.multiarray\n_reconstruct\n",
          b"\x8c\x16numpy._core.multiarray", b"\x8c\x0c_reconstruct", b"\x93", b"R", b"b",
          b"\x8c\x02O8", b"(K\x01", b"]\x94(", b"e", b"t\x94", b"\x80\x04\x95"]

if __name__ == "__main__":
    run(test_one_input, _seeds(), TOKENS)
