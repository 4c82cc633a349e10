"""Dtype policies with Keras' names: the global policy, a layer's dtype argument, what it is
saved as, and what summary and show_config say."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import config, dtype_policies, layers, mixed_precision, models


@pytest.fixture(autouse=True)
def float32_again():
    yield
    dtype_policies._global = dtype_policies.DTypePolicy("float32")


def set_mixed():
    # Without AVX512-BF16 the first global switch warns that the portable kernel runs.
    if fastnn._C.bf16_gemm_kernel() == "sbgemm_ref_6x16" and not dtype_policies._warned_portable:
        with pytest.warns(RuntimeWarning, match="portable kernel"):
            config.set_dtype_policy("mixed_bfloat16")
    else:
        config.set_dtype_policy("mixed_bfloat16")


def test_the_global_policy_applies_to_layers_made_afterwards():
    before = layers.Dense(3)
    assert config.dtype_policy().name == "float32"
    set_mixed()
    after = layers.Dense(3)
    assert before.dtype_policy.name == "float32"
    assert after.dtype_policy == mixed_precision.Policy("mixed_bfloat16")
    assert (after.compute_dtype, after.variable_dtype, after.dtype) == \
        ("bfloat16", "float32", "float32")
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    mixed_precision.set_global_policy("float32")
    assert layers.Dense(3).compute_dtype == "float32"


@pytest.mark.parametrize("dtype,name", [
    (None, "float32"), ("float32", "float32"), (np.float32, "float32"),
    ("mixed_bfloat16", "mixed_bfloat16"), (dtype_policies.DTypePolicy("mixed_bfloat16"),
                                           "mixed_bfloat16"),
    ({"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}, "mixed_bfloat16")])
def test_a_layer_takes_a_policy_by_name_object_or_dtype(dtype, name):
    assert layers.Dense(2, dtype=dtype).dtype_policy.name == name


@pytest.mark.parametrize("bad", ["mixed_float16", "float16", "bfloat16", "int8", "nonsense", 3])
def test_other_policies_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="fastnn has 'float32' and 'mixed_bfloat16'"):
        layers.Dense(2, dtype=bad)
    with pytest.raises(ValueError, match="fastnn has 'float32' and 'mixed_bfloat16'"):
        config.set_dtype_policy(bad)
    assert config.dtype_policy().name == "float32"


def book_mlp(dtype=None):
    fastnn.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((30,)),
                               layers.Dense(16, activation="relu", dtype=dtype),
                               layers.Dense(4, activation="softmax", dtype=dtype)])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model


def test_the_policy_is_saved_and_loaded(tmp_path, rng):
    model = book_mlp("mixed_bfloat16")
    x = rng.standard_normal((10, 30)).astype(np.float32)
    model.fit(x, rng.integers(0, 4, 10), epochs=1, verbose=0)
    assert model.get_config()["layers"][1]["config"]["dtype"] == "mixed_bfloat16"
    assert "dtype" not in book_mlp().get_config()["layers"][1]["config"], \
        "float32 configs stay as before policies"
    model.save(tmp_path / "m.fnn")
    again = models.load_model(tmp_path / "m.fnn")
    assert [layer.dtype_policy.name for layer in again.layers] == ["mixed_bfloat16"] * 2
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = models.clone_model(model)
    assert clone.layers[0].compute_dtype == "bfloat16"


def test_the_keras_file_names_the_policy(tmp_path):
    pytest.importorskip("h5py", reason="Keras' format needs h5py (fastnn[keras-format])")
    import json

    model = book_mlp("mixed_bfloat16")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        layer = json.loads(z.read("config.json"))["config"]["layers"][1]
    assert layer["config"]["dtype"]["config"]["name"] == "mixed_bfloat16"
    assert models.load_model(tmp_path / "m.keras").layers[0].compute_dtype == "bfloat16"


def test_a_changed_policy_reaches_the_compiled_program(rng):
    model = book_mlp()
    x = rng.standard_normal((50, 30)).astype(np.float32)
    before = model.predict(x, verbose=0)
    for layer in model.layers:
        layer.dtype_policy = "mixed_bfloat16"
    after = model.predict(x, verbose=0)
    assert not np.array_equal(before, after)
    np.testing.assert_allclose(after, before, atol=2e-2)
    for layer in model.layers:
        layer.dtype_policy = "float32"
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


def test_summary_and_show_config_name_the_policy_and_the_kernel(capsys):
    lines = []
    book_mlp("mixed_bfloat16").summary(print_fn=lines.append)
    kernel = fastnn._C.bf16_gemm_kernel()
    assert f"Dtype policy: mixed_bfloat16 (bfloat16 GEMMs: {kernel})" in lines
    assert max(len(line) for line in lines) <= 80
    lines.clear()
    book_mlp().summary(print_fn=lines.append)
    assert not any("Dtype policy" in line for line in lines), "Keras' table, unchanged"
    fastnn.show_config()
    out = capsys.readouterr().out
    assert f"bfloat16 gemm    : {kernel}" in out and "dtype policy     : float32" in out


def test_without_avx512_bf16_the_global_switch_warns_once():
    code = ("import warnings, fastnn\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    fastnn.config.set_dtype_policy('mixed_bfloat16')\n"
            "    fastnn.config.set_dtype_policy('mixed_bfloat16')\n"
            "print(len(w), fastnn._C.bf16_gemm_kernel())\n")
    for arch, expected in (("avx2", "1 sbgemm_ref_6x16"), ("generic", "1 sbgemm_ref_6x16")):
        r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTNN_ARCH=arch),
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() == expected, r.stderr
