"""Extreme sizes: any rank numpy accepts, and extents whose product overflows (issue 12, defects
11 and 12)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastnn import GradientTape, Variable, ops


def shapes(rank: int, seed: int) -> tuple:
    """A shape of the given rank with a few axes of 2 or 3 (so the array stays small) and a
    second shape that broadcasts against it."""
    rng = np.random.default_rng(seed)
    a = [1] * rank
    for axis in rng.choice(rank, 5, replace=False):
        a[axis] = int(rng.integers(2, 4))
    b = [d if rng.random() < 0.5 else 1 for d in a[-12:]]
    return tuple(a), tuple(b)


@pytest.mark.parametrize("rank", [33, 40, 64])
def test_ops_and_gradients_on_more_than_32_dimensions(rank):
    # Defect 11: np.broadcast_shapes stops at 32 dimensions, numpy's arrays at 64.
    sa, sb = shapes(rank, rank)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    np.testing.assert_array_equal(ops.add(a, b), a + b)
    np.testing.assert_array_equal(ops.multiply(b, a), b * a)
    np.testing.assert_array_equal(ops.maximum(a, b), np.maximum(a, b))
    axes = tuple(i for i, d in enumerate(sa) if d > 1)[:2]
    np.testing.assert_allclose(ops.mean(a, axis=axes, keepdims=True),
                               a.mean(axis=axes, keepdims=True), rtol=1e-6)
    va, vb = Variable(a), Variable(b)
    with GradientTape() as tape:
        loss = ops.sum(ops.mean(ops.multiply(va, vb), axis=axes, keepdims=True))
    ga, gb = tape.gradient(loss, [va, vb])
    scale = 1.0 / np.prod([sa[i] for i in axes])
    np.testing.assert_allclose(ga, np.broadcast_to(b, (a * b).shape) * scale, rtol=1e-6)
    lead = tuple(range(len(sa) - len(sb)))
    kept = tuple(len(lead) + i for i, d in enumerate(sb) if d == 1 and sa[len(lead) + i] > 1)
    np.testing.assert_allclose(gb, (a * scale).sum(axis=lead + kept).reshape(sb), rtol=1e-5)
    v = Variable(np.zeros(sa, np.float32))
    v.assign_add(b)  # broadcast into a variable of that rank
    np.testing.assert_array_equal(v.numpy(), np.broadcast_to(b, sa))


def test_shapes_that_do_not_broadcast_are_named():
    with pytest.raises(ValueError, match=r"operands could not be broadcast together with "
                                         r"shapes \(2, 3\) and \(4,\)"):
        ops.add(np.ones((2, 3), np.float32), np.ones(4, np.float32))


OVERFLOWS = {
    "sum": "_C.sum(np.zeros(0, 'f4'), np.zeros(4, 'f4'), 1, 2**62, 4)",
    "sum, a zero extent": "_C.sum(np.zeros(0, 'f4'), np.zeros(0, 'f4'), 0, 2**62, 4)",
    "argmax": "_C.argmax(np.zeros(0, 'f4'), np.zeros(0, np.int64), 2**32, 2**32, 1)",
    "softmax": "_C.softmax(np.zeros(0, 'f4'), np.zeros(0, 'f4'), 2**32, 2**32)",
    "negative": "_C.softmax(np.zeros(4, 'f4'), np.zeros(4, 'f4'), -2, -2)",
}


@pytest.mark.parametrize("case", list(OVERFLOWS))
def test_extents_whose_product_overflows_are_refused(case):
    # Defect 12: the product wrapped around in int64, the checks passed, the kernel segfaulted
    # or read out of bounds. In a child process, so that a regression cannot kill the run.
    code = textwrap.dedent(f"""
        import numpy as np
        from fastnn import _C
        try:
            {OVERFLOWS[case]}
            print("accepted")
        except ValueError as e:
            print("ValueError:", e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"the child died ({r.returncode}): {r.stderr}"
    assert r.stdout.startswith("ValueError:"), r.stdout
    assert any(w in r.stdout for w in ("overflows", "too large", "negative extent")), r.stdout


def test_program_widths_that_overflow_are_refused():
    from fastnn import _C

    params = np.zeros(4, np.float32)
    grads = np.zeros(4, np.float32)
    dense = (_C.StepKind.dense, [0], 1, -1, _C.Activation.linear, 0, -1, True, 0.0, None, False)
    inp = (_C.StepKind.input, [], 0, 0, _C.Activation.linear, -1, -1, False, 0.0, None, False)
    out = [(1, _C.Activation.linear, _C.LossKind.mse, 1.0, _C.MetricKind.none)]
    with pytest.raises(ValueError, match=r"width in \[1, 2\*\*31\)"):
        _C.Program(params, grads, [2**32, 2**32], [inp, dense], out, [], None)
    # widths whose kernel (2**31 x 2**31 floats) wraps to a small offset range
    with pytest.raises(ValueError, match="fall outside the parameters"):
        _C.Program(params, grads, [2**31 - 1, 2**31 - 1], [inp, dense], out, [], None)
