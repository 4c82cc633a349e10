"""Hostile model files (issue 12, defects 6, 7 and 10, and the two minor points): every one fails at
once with a ValueError that names the file, before anything large is allocated.

The cases that could block or allocate without bound run in a child process (conftest.run_child)
with a timeout and an address-space cap, so on the code before the fix they fail their test
(timeout, MemoryError) instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fastnn import layers, models

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types and modes")


def small_model(compiled: bool = True):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    if compiled:
        model.compile("adam", "mse", metrics=["mae"])
    return model


def saved_config(path: Path) -> dict:
    return json.loads(bytes(np.load(path)["__fastnn_config__"]).decode())


# ---- defect 6: FIFOs, devices, anything but a regular file ------------------------------------

@posix_only
def test_defect6_a_fifo_is_refused_at_once_instead_of_blocking_in_open(tmp_path, run_child):
    fifo = tmp_path / "model.fnn"
    os.mkfifo(fifo)
    got = run_child(f"models.load_model({str(fifo)!r})", timeout=15)
    assert got["outcome"] == f"ValueError: {fifo} is a FIFO, not a regular file"


@posix_only
@pytest.mark.parametrize("device, kind", [("/dev/zero", "a character device"),
                                          ("/dev/urandom", "a character device")])
def test_defect6_devices_are_refused_by_name(device, kind):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(ValueError, match=f"^{device} is {kind}, not a regular file$"):
        models.load_model(device)


def test_defect6_a_folder_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a regular file"):
        models.load_model(tmp_path)


# ---- defect 7: sizes checked before anything is allocated -------------------------------------

def test_defect7_a_0d_header_cannot_make_a_3_gb_bytes_object(tmp_path, model_file, run_child):
    """The 276-byte file of the issue: its JSON header is a 0-d int64 array, 3.1e9; ``bytes()``
    of that allocated 3.1 GB of zeros."""
    path = model_file(tmp_path / "m.fnn", np.array(3_100_000_000, np.int64), {})
    assert path.stat().st_size < 400
    got = run_child(f"models.load_model({str(path)!r})", budget_mb=100)
    assert got["outcome"].startswith(f"ValueError: {path}: "), got
    assert "model header" in got["outcome"] and "int64" in got["outcome"]


def test_defect7_a_declared_architecture_is_checked_against_the_saved_arrays_first(
        tmp_path, model_file, dense_model_config, run_child):
    """A 2.8 kB file declaring Dense(8000) on 8000 inputs (256 MB of float32, 767 MB with the
    initializer's float64 draw) but holding a 2 x 2 kernel."""
    path = model_file(tmp_path / "m.fnn", dense_model_config(8000, 8000),
                      {"weight_0": np.ones((2, 2), np.float32),
                       "weight_1": np.ones(2, np.float32)})
    assert path.stat().st_size < 3000
    got = run_child(f"models.load_model({str(path)!r})", budget_mb=100)
    assert got["outcome"] == (f"ValueError: {path}: layer 'dense' creates its weight 'kernel' "
                              f"of shape (8000, 8000), but the file's weight_0 has shape (2, 2)")
    if "peak_rss_kib" in got:
        assert got["peak_rss_kib"] - got["rss_before_kib"] < 50_000


def test_defect7_a_billion_declared_parameters_give_valueerror_not_memoryerror(
        tmp_path, model_file, dense_model_config, run_child):
    path = model_file(tmp_path / "m.fnn", dense_model_config(31623, 31623), {})
    got = run_child(f"models.load_model({str(path)!r})", budget_mb=100)
    assert got["outcome"].startswith(f"ValueError: {path}: the file holds 0 weight arrays, "
                                     f"fewer than the model creates"), got


def test_defect7_an_array_header_larger_than_its_data(tmp_path, dense_model_config, npy_bytes,
                                                      run_child):
    """weight_0's .npy header declares 10^10 floats in a member of 24 bytes."""
    path = tmp_path / "m.fnn"
    header = np.frombuffer(json.dumps(dense_model_config(2, 3)).encode(), np.uint8)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("weight_0.npy", npy_bytes(np.ones((3, 2), np.float32), "(100000, 100000)"))
        z.writestr("weight_1.npy", npy_bytes(np.ones(2, np.float32)))
        z.writestr("__fastnn_config__.npy", npy_bytes(header))
    got = run_child(f"models.load_model({str(path)!r})", budget_mb=100)
    assert got["outcome"] == (f"ValueError: {path}: weight_0 declares shape (100000, 100000) of "
                              f"float32 (40000000000 bytes) but holds 24 bytes of data"), got


@pytest.mark.skipif(not sys.platform.startswith("linux") or "-fsanitize=" in
                    __import__("fastnn")._C.base_flags,
                    reason="peak RSS from /proc/self/status (Linux), and no sanitizer quarantine")
def test_defect7_a_large_valid_model_loads_in_about_its_own_size(tmp_path, run_child):
    """64 MB of weights: read straight into the weights, no initializer run first and no second
    copy (before: the archive's arrays, the initializer's float64 draw and its float32 copy)."""
    path = tmp_path / "big.fnn"
    model = models.Sequential([layers.Input((4096,)),
                               layers.Dense(4096, kernel_initializer="ones")])
    model.save(path)
    del model
    size = path.stat().st_size
    got = run_child(f"""
        model = models.load_model({str(path)!r})
        kernel = np.asarray(model.weights[0])
        result = (kernel.shape, float(kernel.min()), float(kernel.max()))
    """, budget_mb=400)
    assert got["outcome"] == "ok" and got["result"] == repr(((4096, 4096), 1.0, 1.0)), got
    grew = (got["peak_rss_kib"] - got["rss_before_kib"]) * 1024
    assert grew < 1.25 * size, f"peak grew by {grew >> 20} MiB for a {size >> 20} MiB file"


def test_saved_arrays_of_other_types_and_layouts_load_as_float32(tmp_path, model_file):
    """Not a defect: a file written by other means (float64 big-endian, int16, Fortran order)
    still loads, each array converted a piece at a time."""
    path = tmp_path / "m.fnn"
    small_model().save(path)
    kernel = np.arange(6, dtype=">f8").reshape(3, 2) / 4
    model_file(path, saved_config(path), {"weight_0": np.asfortranarray(kernel),
                                           "weight_1": np.array([-3, 7], np.int16)})
    loaded = models.load_model(path)
    got_kernel, got_bias = loaded.get_weights()
    np.testing.assert_array_equal(got_kernel, kernel.astype(np.float32))
    np.testing.assert_array_equal(got_bias, [-3, 7])
    assert got_kernel.dtype == np.float32


def test_a_layer_that_creates_its_weights_out_of_order_still_loads(tmp_path):
    """Saved arrays follow ``weights`` (trainable ones first); this layer creates a non-trainable
    weight first, so the loader cannot hand out arrays in creation order and assigns them once
    the model is whole."""
    class Counted(layers.Layer):
        def build(self, input_shape):
            self.count = self.add_weight((), initializer="zeros", trainable=False, name="count")
            self.scale = self.add_weight((input_shape[-1],), initializer="ones", name="scale")

        def call(self, inputs, training=None):
            return inputs * self.scale

    i = layers.Input((3,))
    model = models.Model(i, layers.Dense(2)(Counted()(i)))
    model.set_weights([np.array([1.0, 2.0, 3.0]), np.array(5.0), np.ones((3, 2)), np.zeros(2)])
    model.save(tmp_path / "c.fnn")
    loaded = models.load_model(tmp_path / "c.fnn", custom_objects={"Counted": Counted})
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_models_loading_on_several_threads_get_their_own_weights(tmp_path):
    """The loader's hook into add_weight is per thread."""
    paths = []
    for k in range(4):
        model = models.Sequential([layers.Input((5,)),
                                   layers.Dense(4 + k, kernel_initializer="ones"),
                                   layers.Dense(3, kernel_initializer="zeros")])
        model.set_weights([w + k for w in model.get_weights()])
        model.save(tmp_path / f"m{k}.fnn")
        paths.append(tmp_path / f"m{k}.fnn")
    results = {}

    def load(k):
        for _ in range(10):
            results[k] = models.load_model(paths[k]).get_weights()

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert [w.shape for w in results[k]] == [(5, 4 + k), (4 + k,), (4 + k, 3), (3,)]
        assert results[k][0].min() == results[k][0].max() == 1 + k
        assert results[k][2].max() == k


# ---- defect 10: the compile section is validated like the rest --------------------------------

@pytest.mark.parametrize("compile_section, problem", [
    ([], "not a JSON object"),
    ({"loss": "mse"}, "optimizer"),
    ({"optimizer": {"config": {}}, "loss": "mse"}, "class_name"),
    ({"optimizer": {"class_name": "Adam", "config": []}, "loss": "mse"}, "config"),
    ({"optimizer": {"class_name": "Adam", "config": {"bogus": 1}}, "loss": "mse"}, "bogus"),
    ({"optimizer": {"class_name": "Adam", "config": {"learning_rate": "fast"}}, "loss": "mse"},
     "learning_rate"),
    ({"optimizer": {"class_name": ["Adam"], "config": {}}, "loss": "mse"}, "class_name"),
    ({"optimizer": "adam", "loss": 5}, "loss"),
    ({"optimizer": "adam", "loss": {"dense": [[["mse"]]]}}, "loss"),
    ({"optimizer": "adam", "loss": "mse", "metrics": {"dense": 5}}, "metrics"),
    ({"optimizer": "adam", "loss": "mse", "metrics": [{"a": "b"}]}, "metrics"),
    ({"optimizer": "adam", "loss": "mse", "loss_weights": "heavy"}, "loss_weights"),
])
def test_defect10_a_bad_compile_section_raises_valueerror_naming_the_file(
        tmp_path, model_file, compile_section, problem):
    path = tmp_path / "m.fnn"
    small_model().save(path)
    config = saved_config(path)
    config["compile"] = compile_section
    weights = small_model().get_weights()
    model_file(path, config, {f"weight_{i}": w for i, w in enumerate(weights)})
    with pytest.raises(ValueError, match="compile") as info:
        models.load_model(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)
    assert not models.load_model(path, compile=False).compiled  # the rest still loads


# ---- minor: weights of a dtype that is not a real number --------------------------------------

BAD_DTYPES = [np.ones((3, 2), np.complex128), np.ones((3, 2), bool), np.full((3, 2), "1"),
              np.full((3, 2), b"1"), np.ones((3, 2), object),
              np.arange(6).reshape(3, 2).astype("datetime64[s]"),
              np.arange(6).reshape(3, 2).astype("timedelta64[s]")]


@pytest.mark.parametrize("bad", BAD_DTYPES, ids=lambda a: str(a.dtype))
def test_minor_set_weights_refuses_arrays_that_are_not_real_numbers(bad):
    model = small_model(compiled=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match=re.escape(f"Received: dtype={bad.dtype}") + "$"):
        model.set_weights([bad, np.zeros(2)])
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)  # nothing written


def test_minor_set_weights_still_converts_ints_and_floats_to_float32():
    model = small_model(compiled=False)
    model.set_weights([np.arange(6, dtype=np.int64).reshape(3, 2), np.ones(2, np.float64)])
    kernel, bias = model.get_weights()
    assert kernel.dtype == np.float32 and kernel.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert bias.dtype == np.float32 and bias.tolist() == [1, 1]
    model.set_weights([np.ones((3, 2), np.uint8), np.ones(2, np.float16)])
    assert model.get_weights()[0].dtype == np.float32


@pytest.mark.parametrize("bad", [BAD_DTYPES[0], BAD_DTYPES[1], BAD_DTYPES[2], BAD_DTYPES[5]],
                         ids=lambda a: str(a.dtype))
def test_minor_a_model_file_with_weights_that_are_not_real_numbers(tmp_path, model_file, bad):
    path = tmp_path / "m.fnn"
    small_model().save(path)
    model_file(path, saved_config(path), {"weight_0": bad, "weight_1": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: weight_0 has dtype {bad.dtype}; "
                                                         f"expected integers or floats")):
        models.load_model(path)


# ---- minor: a saved file gets the permissions a new file gets ---------------------------------

@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=oct)
def test_minor_a_new_model_file_gets_0666_less_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        small_model().save(tmp_path / "m.fnn")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.fnn").stat().st_mode) == 0o666 & ~umask


@posix_only
def test_minor_a_replaced_model_file_keeps_its_mode(tmp_path):
    path = tmp_path / "m.fnn"
    path.write_bytes(b"old")
    path.chmod(0o640)
    old = os.umask(0o077)
    try:
        small_model().save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert models.load_model(path).get_weights()[0].shape == (3, 2)
