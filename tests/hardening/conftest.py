"""Helpers for the hardening tests: a small compiled model (``mlp``); for the hostile-file tests,
writing model files by hand, and running a reader in a child process with a timeout and a bound
on the memory it may take.

A reader that blocks, allocates without limit or crashes must fail only its test, not the run: the
risky cases run in a child. There ``RLIMIT_AS`` caps the address space at what the child has once
numpy and fastnn are imported plus a budget, so a reader that allocates more fails with
MemoryError instead of growing (RSS alone would miss an untouched ``np.empty``). The cap is set on
Linux only (macOS does not enforce it) and not under AddressSanitizer, which reserves terabytes of
address space for its shadow memory.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import fastnn
from fastnn import layers, models

SANITIZED = "-fsanitize=" in fastnn._C.base_flags
CAN_LIMIT = sys.platform.startswith("linux") and not SANITIZED

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    import fastnn
    from fastnn import datasets, layers, models

    def vm_kib(field):
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:  # no /proc (macOS): no figures, and the tests that need them skip
            pass
        return 0

    budget, limit = int(sys.argv[1]), sys.argv[2] == "1"
    if limit:
        cap = vm_kib("VmSize") * 1024 + budget
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent through exec.
    rss_before = vm_kib("VmHWM")
    start = time.perf_counter()
    try:
        result = None
        {code}
        outcome = "ok"
    except BaseException as e:
        outcome = f"{{type(e).__name__}}: {{e}}"
    print(json.dumps({{"outcome": outcome, "seconds": time.perf_counter() - start,
                      "rss_before_kib": rss_before,
                      "peak_rss_kib": vm_kib("VmHWM"),
                      "result": repr(result)[:200]}}))
""")


@pytest.fixture
def run_child():
    """``run_child(code, budget_mb=..., timeout=...)``: runs ``code`` (statements that may set
    ``result``) in a fresh Python with numpy, fastnn, ``datasets``, ``layers`` and ``models``
    imported, under an address-space cap of ``budget_mb`` above the imports (Linux, no sanitizer).
    Returns a dict: ``outcome`` ("ok" or "ExceptionType: message"), ``seconds``, ``peak_rss_kib``,
    ``rss_before_kib``, ``result``; or ``{"outcome": "timeout"}`` when the child was killed."""
    if sys.platform == "win32":
        pytest.skip("the child runner uses /proc and resource (POSIX)")

    def run(code: str, budget_mb: int = 300, timeout: float = 60.0) -> Dict[str, Any]:
        script = _CHILD.format(code=textwrap.indent(textwrap.dedent(code), " " * 4).strip())
        try:
            done = subprocess.run([sys.executable, "-c", script, str(budget_mb << 20),
                                   "1" if CAN_LIMIT else "0"],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout"}
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            return {"outcome": f"crash (exit {done.returncode}): {done.stderr[-2000:]}"}
        out: Dict[str, Any] = json.loads(lines[-1])
        return out

    return run


def _npy_bytes(array: np.ndarray, shape: str = "") -> bytes:
    """array's .npy bytes, with another shape written in the header when one is given (taken
    out of the header's padding, so the header keeps its length)."""
    buf = io.BytesIO()
    np.save(buf, array)
    raw = buf.getvalue()
    if not shape:
        return raw
    old, new = f"'shape': {array.shape}, ".encode(), f"'shape': {shape}, ".encode()
    end = raw.index(b"\n")
    header = raw[10:end].replace(old, new)
    return raw[:10] + header[:end - 10] + raw[end:]


@pytest.fixture
def npy_bytes():
    """``npy_bytes(array, shape="")``: the .npy bytes of array, with ``shape`` (a string such as
    "(100000, 100000)") written in the header instead of the array's own when given."""
    return _npy_bytes


def _model_file(path: Path, config: Any, arrays: Dict[str, np.ndarray]) -> Path:
    """A model file as save_model lays it out, with any header and arrays."""
    with open(path, "wb") as f:
        header = config if isinstance(config, np.ndarray) else \
            np.frombuffer(json.dumps(config).encode(), np.uint8)
        np.savez(f, __fastnn_config__=header, **arrays)
    return path


@pytest.fixture
def model_file():
    """``model_file(path, config, arrays)``: writes a model file by hand (the config a dict, or any
    array to stand for the JSON header; arrays named weight_0, weight_1, ...)."""
    return _model_file


def dense_config(units: int, inputs: int) -> Dict[str, Any]:
    """The description of Sequential([Input((inputs,)), Dense(units)]), as save_model writes it."""
    return {"format": "fastnn", "version": 2, "built": True,
            "model": {"class_name": "Sequential", "config": {
                "name": "sequential", "trainable": True,
                "layers": [{"class_name": "InputLayer",
                            "config": {"batch_shape": [None, inputs], "dtype": "float32",
                                       "name": "input_layer"}},
                           {"class_name": "Dense",
                            "config": {"name": "dense", "units": units}}]}}}


@pytest.fixture
def dense_model_config():
    """``dense_model_config(units, inputs)``: a one-Dense-layer model's description."""
    return dense_config


def make_mlp(d=20, hidden=32, k=4):
    """A compiled d-hidden-k classifier (relu, softmax, Adam, accuracy)."""
    model = models.Sequential([layers.Input((d,)), layers.Dense(hidden, activation="relu"),
                               layers.Dense(k, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def mlp():
    """``make_mlp``, the function: call it with the sizes a test needs."""
    return make_mlp
