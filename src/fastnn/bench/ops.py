"""Microbenchmarks of fastnn's kernels against numpy, timed alternately in the same process.

    python bench/ops.py                # full run, 2 threads for both libraries
    python bench/ops.py --quick        # short run (a few seconds)
    python bench/ops.py --threads 1    # (python -m fastnn.bench.ops works the same)

fastnn and numpy (its BLAS) get the same number of threads. Each figure is the median over
repeated samples; the two libraries are timed in turn, so machine noise hits both alike. Every
result is checked against numpy before it is timed. The BLAS thread variables are set by
re-running the process (see ``_env.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

import fastnn
from fastnn import ops

from ._env import rerun_with_blas_threads

# (case, fastnn seconds, numpy seconds, fastnn rate, numpy rate, rate unit)
Row = Tuple[str, float, float, float, float, str]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for fastnn and numpy's BLAS")
    p.add_argument("--quick", action="store_true", help="fewer sizes and samples")
    p.add_argument("--samples", type=int, default=None, help="timed samples per op (default 15, quick 5)")
    p.add_argument("--only", choices=["matmul", "elementwise"], default=None)
    return p.parse_args(argv)


def _time_calls(fn: Callable[[], Any], min_seconds: float) -> float:
    """Seconds per call of fn, from a loop long enough to dwarf the timer's resolution."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_seconds or n >= 1 << 20:
            return dt / n
        n *= 2 if dt <= 0 else max(2, int(min_seconds / dt * 1.2))


def compare(fast: Callable[[], Any], ref: Callable[[], Any], samples: int,
            min_seconds: float) -> Tuple[float, float]:
    """Median seconds per call of (fast, ref), sampled alternately."""
    fast(), ref()  # warm caches, thread pools and packing buffers
    tf: List[float] = []
    tr: List[float] = []
    for _ in range(samples):
        tf.append(_time_calls(fast, min_seconds))
        tr.append(_time_calls(ref, min_seconds))
    return statistics.median(tf), statistics.median(tr)


def bench_matmul(samples: int, quick: bool) -> List[Row]:
    rng = np.random.default_rng(0)
    cases = []
    squares = [64, 256, 1024] if quick else [64, 128, 256, 512, 1024, 2048]
    for s in squares:
        cases.append((f"{s}x{s}x{s}", s, s, s, False, False))
    # The MLP's GEMMs (784-512-10, batch 128): forward, then the weight and input gradients.
    cases += [
        ("fwd (128x784).(784x512)", 128, 784, 512, False, False),
        ("fwd (128x512).(512x10)", 128, 512, 10, False, False),
        ("bwd (784x128).(128x512) A^T.B", 784, 128, 512, True, False),
        ("bwd (128x10).(10x512) A.B^T", 128, 10, 512, False, True),
        # predict on a few rows: the small-M path reads B in place
        ("predict (1x784).(784x512)", 1, 784, 512, False, False),
        ("predict (16x784).(784x512)", 16, 784, 512, False, False),
    ]
    rows = []
    for name, m, k, n, ta, tb in cases:
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        c_fast = np.empty((m, n), np.float32)
        c_ref = np.empty((m, n), np.float32)
        ops.matmul(a, b, trans_a=ta, trans_b=tb, out=c_fast)
        np.matmul(opa, opb, out=c_ref)
        ref64 = opa.astype(np.float64) @ opb.astype(np.float64)
        err = np.abs(c_fast - ref64).max() / max(1e-30, np.abs(ref64).max())
        if not err < 1e-5:
            sys.exit(f"matmul {name}: fastnn disagrees with numpy (relative error {err:.2e})")
        # The lambdas run inside this iteration, so binding the loop variables late is fine.
        tf, tr = compare(lambda: ops.matmul(a, b, trans_a=ta, trans_b=tb, out=c_fast),  # noqa: B023
                         lambda: np.matmul(opa, opb, out=c_ref),  # noqa: B023
                         samples, 0.02 if m * n * k < 1e8 else 0.1)
        flops = 2.0 * m * n * k
        rows.append((name, tf, tr, flops / tf / 1e9, flops / tr / 1e9, "GFLOP/s"))
    return rows


def _np_softmax_xent(z: np.ndarray, y: np.ndarray) -> Tuple[float, np.ndarray]:
    """The numpy reference: stable softmax, mean cross-entropy and its gradient."""
    s = z - z.max(axis=1, keepdims=True)
    e = np.exp(s)
    total = e.sum(axis=1, keepdims=True)
    n = z.shape[0]
    loss = float(np.mean(np.log(total[:, 0]) - s[np.arange(n), y]))
    g = e / total
    g[np.arange(n), y] -= 1.0
    g /= n
    return loss, g


def bench_elementwise(samples: int, quick: bool) -> List[Row]:
    rng = np.random.default_rng(1)
    big = 1 << 20
    x = rng.standard_normal(big, dtype=np.float32)
    y = rng.standard_normal(big, dtype=np.float32)
    out = np.empty(big, np.float32)
    h = rng.standard_normal((128, 512), dtype=np.float32)
    bias = rng.standard_normal(512, dtype=np.float32)
    hout = np.empty_like(h)
    logits = rng.standard_normal((128, 10), dtype=np.float32)
    labels = rng.integers(0, 10, 128)
    x_pos = np.abs(x) + 0.5

    cases = [
        # name, fastnn call, numpy call, bytes moved
        ("add 1M", lambda: ops.add(x, y, out=out), lambda: np.add(x, y, out=out), 12 * big),
        ("multiply 1M", lambda: ops.multiply(x, y, out=out), lambda: np.multiply(x, y, out=out), 12 * big),
        ("add bias (128,512)+(512,)", lambda: ops.add(h, bias, out=hout),
         lambda: np.add(h, bias, out=hout), 8 * h.size),
        ("relu 1M", lambda: ops.relu(x, out=out), lambda: np.maximum(x, 0, out=out), 8 * big),
        ("relu (128,512)", lambda: ops.relu(h, out=hout), lambda: np.maximum(h, 0, out=hout), 8 * h.size),
        ("exp 1M", lambda: ops.exp(x, out=out), lambda: np.exp(x, out=out), 8 * big),
        ("log 1M", lambda: ops.log(x_pos, out=out), lambda: np.log(x_pos, out=out), 8 * big),
        ("sum axis 0 (128,512)", lambda: ops.sum(h, axis=0), lambda: h.sum(axis=0), 4 * h.size),
        ("softmax_xent (128,10)", lambda: ops.softmax_cross_entropy(logits, labels),
         lambda: _np_softmax_xent(logits, labels), 8 * logits.size),
    ]
    if quick:
        cases = [c for c in cases if c[0] in ("add 1M", "add bias (128,512)+(512,)", "relu 1M",
                                             "softmax_xent (128,10)")]
    loss_f, g_f = ops.softmax_cross_entropy(logits, labels)
    loss_r, g_r = _np_softmax_xent(logits, labels)
    if not (abs(loss_f - loss_r) < 1e-5 and np.allclose(g_f, g_r, atol=1e-6)):
        sys.exit("softmax_cross_entropy: fastnn disagrees with numpy")
    rows = []
    for name, fast, ref, nbytes in cases:
        tf, tr = compare(fast, ref, samples, 0.01)
        rows.append((name, tf, tr, nbytes / tf / 1e9, nbytes / tr / 1e9, "GB/s"))
    return rows


def _fmt_time(t: float) -> str:
    return f"{t * 1e6:9.1f} us" if t < 1e-2 else f"{t * 1e3:9.2f} ms"


def print_table(title: str, rows: List[Row]) -> None:
    unit = rows[0][5] if rows else ""
    print(f"\n{title}")
    print(f"| {'case':32} | {'fastnn':>12} | {'numpy':>12} | {'fastnn ' + unit:>15} | "
          f"{'numpy ' + unit:>14} | {'speed-up':>8} |")
    print(f"|{'-' * 34}|{'-' * 14}|{'-' * 14}|{'-' * 17}|{'-' * 16}|{'-' * 10}|")
    for name, tf, tr, rf, rr, _ in rows:
        print(f"| {name:32} | {_fmt_time(tf):>12} | {_fmt_time(tr):>12} | {rf:15.1f} | "
              f"{rr:14.1f} | {tr / tf:7.2f}x |")


def main(args: argparse.Namespace) -> None:
    fastnn.set_num_threads(args.threads)
    samples = args.samples or (5 if args.quick else 15)
    print(f"fastnn {fastnn.__version__} vs numpy {np.__version__}; {args.threads} thread(s) each; "
          f"medians of {samples} alternating samples")
    fastnn.show_config()
    if args.only in (None, "matmul"):
        print_table("matmul (speed-up = numpy time / fastnn time)", bench_matmul(samples, args.quick))
    if args.only in (None, "elementwise"):
        print_table("element-wise, reductions, softmax-xent (bytes = inputs read + outputs written)",
                    bench_elementwise(samples, args.quick))


def run(argv: Optional[Sequence[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    rerun_with_blas_threads("fastnn.bench.ops", argv, args.threads)
    main(args)


if __name__ == "__main__":
    run()
