"""Fuzz target for ``models.load_model``: every input must load, or fail with a ValueError that
names the file, or with an OSError (fuzz/_common.py has the rule).

The first byte of an input picks how the rest becomes a file:
  0: the rest is the file, as is (the zip and .npy layers are fuzzed);
  1: the rest is a model description (JSON) and the weight shapes before it, which the target
     wraps in a valid archive (the description, the architecture checks and the compile section
     are fuzzed past the zip layer's CRCs).
Seeds are written at start: files and descriptions of a few small models (Sequential, functional
with two outputs and a shared layer, nested, unbuilt, compiled or not).

Run from the repository root, e.g.:
    python fuzz/fuzz_model_file.py -runs=100000 -max_total_time=1200
"""

from __future__ import annotations

import io
import os
import sys
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atheris  # noqa: E402

from _common import SCRATCH, check, forget, run  # noqa: E402

# The reader and the standard library's zip code under it (imported here first, so that it is
# instrumented).
forget("zipfile")
with atheris.instrument_imports(include=["fastnn", "zipfile"], enable_loader_override=False):
    import zipfile  # noqa: F401

    from fastnn import layers, models

PATH = SCRATCH / "model.fnn"
# Weight element types the structured mode draws from: fastnn's own, others a reader converts,
# and kinds it must refuse.
DTYPES = ["<f4", ">f4", "<f8", "<f2", "<i4", "|u1", "<c8", "|b1", "<M8[s]", "<U1"]
MAX_DIM = 9


def _archive(description: bytes, weights: List[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __fastnn_config__=np.frombuffer(description, np.uint8),
             **{f"weight_{i}": w for i, w in enumerate(weights)})
    return buf.getvalue()


def _structured(data: bytes) -> bytes:
    """Byte 0: the number of weights (mod 8); then per weight its rank (mod 3), two sizes (mod
    9) and a dtype index; the rest is the description."""
    n = data[0] % 8 if data else 0
    pos, weights = 1, []
    for _ in range(n):
        if pos + 4 > len(data):
            break
        rank, d0, d1, kind = data[pos:pos + 4]
        pos += 4
        shape = (d0 % MAX_DIM, d1 % MAX_DIM)[:rank % 3]
        weights.append(np.ones(shape, DTYPES[kind % len(DTYPES)]))
    return _archive(data[pos:], weights)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    PATH.write_bytes(data[1:] if data[0] % 2 == 0 else _structured(data[1:]))
    check(PATH, models.load_model)


def _encode(description: bytes, weights: List[np.ndarray]) -> bytes:
    """The structured-mode input that _structured turns into these weights and description."""
    head = bytes([len(weights)])
    for w in weights:
        dims = list(w.shape) + [0] * (2 - w.ndim)
        head += bytes([w.ndim, dims[0], dims[1], DTYPES.index(w.dtype.str)])
    return b"\x01" + head + description


def _seeds() -> Dict[str, bytes]:
    a, b = layers.Input((3,), name="a"), layers.Input((3,), name="b")
    shared = layers.Dense(2, activation="relu", name="shared")
    joined = layers.Concatenate()([shared(a), shared(b), layers.Subtract()([a, b])])
    functional = models.Model({"a": a, "b": b},
                              [layers.Dense(2, activation="softmax", name="c")(joined),
                               layers.Dense(1, name="r")(joined)])
    functional.compile("rmsprop", loss=["sparse_categorical_crossentropy", "mse"],
                       loss_weights=[1, 0.3], metrics=[["accuracy"], []])
    seq = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"),
                             layers.Dropout(0.1), layers.Dense(2, activation="softmax")])
    seq.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    inner = models.Sequential([layers.Input((2,)), layers.Dense(2)], name="inner")
    i = layers.Input((2,))
    nested = models.Model(i, layers.Dense(1)(layers.Flatten()(layers.Reshape((2, 1))(inner(i)))))
    nested.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    found: Dict[str, Tuple[models.Model, bool]] = {
        "functional": (functional, True), "sequential": (seq, True), "nested": (nested, True),
        "uncompiled": (models.Sequential([layers.Input((1,)), layers.Dense(1)]), False),
        "unbuilt": (models.Sequential([layers.Dense(2)]), False)}
    seeds = {}
    for name, (model, _) in found.items():
        model.save(PATH)
        raw = PATH.read_bytes()
        seeds[f"{name}-file"] = b"\x00" + raw
        description = bytes(np.load(PATH)["__fastnn_config__"])
        weights = [w.astype(np.float32) for w in model.get_weights()]
        seeds[f"{name}-description"] = _encode(description, weights)
    return seeds


TOKENS = [t.encode() for t in [
    '"class_name"', '"config"', '"Dense"', '"Sequential"', '"Functional"', '"InputLayer"',
    '"units"', '"batch_shape"', '"layers"', '"inbound_nodes"', '"input_layers"',
    '"output_layers"', '"compile"', '"optimizer"', '"loss"', '"metrics"', '"loss_weights"',
    '"learning_rate"', '"version"', '"format"', '"fastnn"', '"built"', "null", "true", "[]",
    "{}", "1e309", "-1", "4294967296"]] + [b"weight_", b"__fastnn_config__", b"\x93NUMPY",
                                          b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"]

if __name__ == "__main__":
    run(test_one_input, _seeds(), TOKENS)
