"""bfloat16 GEMMs (ops.matmul(precision="bfloat16"), the mixed_bfloat16 policy's kernels):
the rounding of the operands, an emulation in numpy of the accumulation, a float64 bound, the
same bits on every kernel path and thread count, and the mixed training step against the
op-by-op path and a numpy emulation of its GEMMs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _C, layers, models, ops
from fastnn.utils import set_random_seed

KC = 512  # GEMM_KC_BF16: the K block, part of the result (kernels/config.h)
ARCHES = ["generic", "avx2", "avx512"] + (["avx512_bf16"] if _C.cpu_supports_avx512_bf16()
                                           else [])


def bf16(x):
    """Round to bfloat16 as the kernels do (nearest even; denormals to signed zero; NaN kept),
    returned as float32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    exp = u & 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where(exp == 0, (u >> 16) & 0x8000, r)
    r = np.where((exp == 0x7F800000) & ((u & 0x7FFFFF) != 0), ((u >> 16) | 0x40) & 0xFFFF, r)
    return (r.astype(np.uint32) << 16).view(np.float32)


def ftz(x):
    return np.where(np.abs(x) < np.finfo(np.float32).tiny, np.float32(0) * x, x)


def emulate(a, b):
    """a @ b as VDPBF16PS chains compute it: pairs along k, the odd product first, each step one
    rounding to float32 (the product of two bfloat16 values is exact in float64), K in
    ceil(K / KC) nearly equal blocks of an even size, whose sums add onto C."""
    a, b = bf16(a).astype(np.float64), bf16(b).astype(np.float64)
    m, k = a.shape
    c = np.zeros((m, b.shape[1]), np.float32)
    blocks = -(-k // KC)
    kb = 2 * -(-(-(-k // blocks)) // 2)
    for p0 in range(0, k, kb):
        acc = np.zeros_like(c)
        for q in range(p0, min(k, p0 + kb), 2):
            if q + 1 < min(k, p0 + kb):
                acc = ftz((acc + np.outer(a[:, q + 1], b[q + 1])).astype(np.float32))
            acc = ftz((acc + np.outer(a[:, q], b[q])).astype(np.float32))
        c = acc if p0 == 0 else (c.astype(np.float64) + acc).astype(np.float32)
    return c


def test_operands_round_to_nearest_even_with_denormals_flushed():
    cases = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-9, 1 + 2**-9, -(1 + 2**-9), 3.4e38, 1e-39,
                      -1e-39, np.inf, -np.inf, 2**-126, 1 + 2**-7 + 2**-9], np.float32)
    one = np.ones((1, 1), np.float32)
    got = np.array([ops.matmul(np.array([[v]], np.float32), one, precision="bfloat16")[0, 0]
                    for v in cases])
    # (The product adds onto +0, so a zero's sign does not show: the values are compared.)
    np.testing.assert_array_equal(got, bf16(cases))
    assert got[2] == 1 + 2**-7 and got[3] == 1.0, "ties go to the even neighbour"
    assert got[6] == 0 and got[7] == 0, "denormals become zeros"
    assert got[5] == np.inf, "3.4e38 rounds up past the largest bfloat16"
    nan = ops.matmul(np.array([[np.nan]], np.float32), one, precision="bfloat16")
    assert np.isnan(nan[0, 0])


@pytest.mark.parametrize("m,k,n,ta,tb", [
    (1, 1, 1, False, False), (5, 7, 3, False, False), (6, 16, 32, False, False),
    (7, 33, 17, True, False), (13, KC + 3, 31, False, True), (64, 2 * KC + 1, 65, True, True),
    (128, 784, 512, False, False), (784, 128, 512, True, False), (128, 512, 784, False, True)])
def test_matmul_matches_the_emulation_and_a_float64_bound(m, k, n, ta, tb, rng):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    got = ops.matmul(a, b, trans_a=ta, trans_b=tb, precision="bfloat16")
    A, B = (a.T if ta else a), (b.T if tb else b)
    ref = bf16(A).astype(np.float64) @ bf16(B).astype(np.float64)
    bound = 2 * k * np.finfo(np.float32).eps * (np.abs(bf16(A)).astype(np.float64) @
                                               np.abs(bf16(B)).astype(np.float64))
    assert np.all(np.abs(got - ref) <= bound)
    np.testing.assert_array_equal(got, emulate(A, B))


def _products(arch, threads):
    """Products on a given kernel path and thread count, from a fresh process."""
    code = (
        "import json, sys, numpy as np, fastnn\n"
        "from fastnn import ops\n"
        f"fastnn.set_num_threads({threads})\n"
        "rng = np.random.default_rng(3)\n"
        "out = []\n"
        "for m, k, n in [(130, 1100, 50), (6, 784, 512), (200, 64, 10)]:\n"
        "    a = rng.standard_normal((m, k)).astype(np.float32)\n"
        "    b = rng.standard_normal((k, n)).astype(np.float32)\n"
        "    for ta, tb in [(False, False), (True, True)]:\n"
        "        A = np.ascontiguousarray(a.T) if ta else a\n"
        "        B = np.ascontiguousarray(b.T) if tb else b\n"
        "        c = ops.matmul(A, B, trans_a=ta, trans_b=tb, precision='bfloat16')\n"
        "        out.append(c.view(np.uint32).tolist())\n"
        "        c = ops.matmul(A, B, trans_a=ta, trans_b=tb, precision='bfloat16',\n"
        "                       out=c * 3, beta=0.37)\n"
        "        out.append(c.view(np.uint32).tolist())\n"
        "print(fastnn._C.bf16_gemm_kernel()); print(json.dumps(out))\n")
    env = dict(os.environ, FASTNN_ARCH=arch)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    kernel, data = r.stdout.splitlines()
    return kernel, json.loads(data)


@pytest.mark.skipif(os.environ.get("FASTNN_ARCH", "auto") not in ("", "auto"),
                    reason="it runs every kernel path itself: once, in the FASTNN_ARCH=auto run, "
                           "is enough")
def test_every_kernel_path_and_thread_count_gives_the_same_bits():
    kernel, reference = _products("generic", 1)
    assert kernel == "sbgemm_ref_6x16"
    seen = {kernel}
    for arch in ARCHES:
        for threads in (1, 2, 3):
            if (arch, threads) == ("generic", 1):
                continue
            kernel, got = _products(arch, threads)
            seen.add(kernel)
            assert got == reference, (arch, threads, kernel)
    if _C.cpu_supports_avx512_bf16():
        assert "sbgemm_avx512bf16_6x32" in seen


def test_precision_is_checked():
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="precision must be 'float32' or 'bfloat16'"):
        ops.matmul(a, a, precision="float16")
    with pytest.raises(ValueError, match="precision must be"):
        ops.dense(a, a, precision="bf16")


def test_a_tensor_matmul_takes_its_gradients_in_bfloat16(rng):
    a = fastnn.Variable(rng.standard_normal((9, 20)).astype(np.float32))
    b = fastnn.Variable(rng.standard_normal((20, 7)).astype(np.float32))
    with fastnn.GradientTape() as tape:
        loss = ops.sum(ops.matmul(a, b, precision="bfloat16"))
    ga, gb = tape.gradient(loss, [a, b])
    ones = np.ones((9, 7), np.float32)
    np.testing.assert_array_equal(np.asarray(ga), emulate(ones, b.numpy().T))
    np.testing.assert_array_equal(np.asarray(gb), emulate(a.numpy().T, ones))


# ---- the mixed_bfloat16 step ---------------------------------------------------------------

def mlp(policy, seed=0):
    set_random_seed(seed)
    model = models.Sequential([layers.Input((20,)),
                               layers.Dense(16, activation="relu", dtype=policy),
                               layers.Dense(3, activation="softmax", dtype=policy)])
    return model


def test_the_compiled_mixed_step_is_the_op_by_op_one(rng):
    x = rng.standard_normal((96, 20)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    runs = []
    for eager in (False, True):
        model = mlp("mixed_bfloat16")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=eager)
        history = model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
        runs.append((history.history["loss"], model.get_weights(), model.predict(x, verbose=0)))
    (loss_c, w_c, p_c), (loss_e, w_e, p_e) = runs
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-6)
    for a, b in zip(w_c, w_e):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p_c, p_e)


def test_the_mixed_step_is_its_emulation(rng):
    # One SGD step of a linear layer under mse, emulated in numpy: forward and both gradients
    # on bfloat16 operands, everything else float32.
    x = rng.standard_normal((8, 20)).astype(np.float32)
    t = rng.standard_normal((8, 3)).astype(np.float32)
    set_random_seed(1)
    model = models.Sequential([layers.Input((20,)), layers.Dense(3, dtype="mixed_bfloat16")])
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="mse")
    w, b = (v.copy() for v in model.get_weights())
    model.train_on_batch(x, t)
    y = emulate(x, w) + b
    dy = (2.0 / y.size * (y - t)).astype(np.float32)
    dw = emulate(x.T, dy)
    new_w, new_b = model.get_weights()
    np.testing.assert_allclose(new_w, w - 0.1 * dw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new_b, b - 0.1 * dy.sum(axis=0), rtol=1e-5, atol=1e-7)


def test_mixed_training_learns_as_float32_does(rng):
    centers = rng.normal(0, 2, (3, 20))
    y = rng.integers(0, 3, 600)
    x = (centers[y] + rng.normal(0, 1, (600, 20))).astype(np.float32)
    scores = {}
    for policy in ("float32", "mixed_bfloat16"):
        model = mlp(policy)
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x, y, epochs=5, batch_size=32, verbose=0)
        scores[policy] = model.evaluate(x, y, verbose=0)[1]
    assert scores["float32"] > 0.9
    assert abs(scores["mixed_bfloat16"] - scores["float32"]) < 0.03
