"""The book's four cases, trained by fastnn, by numpy written by hand and by PyTorch (when
importable) in one process; then predict latency, the MNIST network's GEMMs against numpy and
``torch.matmul``, fastnn's and numpy's GEMMs alternating in one process, and MNIST under the
mixed_bfloat16 policy against float32 and PyTorch's bfloat16 autocast.

    python bench/cases.py                   # every case, 3 timed epochs each, 2 threads
    python bench/cases.py --quick           # a short run, to check that it works
    python bench/cases.py --only mnist --plot cases.png
    python -m fastnn.bench.cases --help     # the same, from an installed fastnn

The cases, at the book's shapes, each trained with RMSprop and the book's loss:
MNIST 784-512-10 at batch 128 and at Keras' default 32 (Fashion-MNIST's 60,000 images, which
have MNIST's shape, where found; see ``bench/train.py``), IMDB 10000-16-16-1 at batch 512 (25,000
multi-hot reviews, as a dense array and, with scipy, as a CSR matrix), Reuters 10000-64-64-46 at
batch 512 (8,982 newswires) and Boston housing 13-64-64-1 at batch 16 (404 houses, from
``../shared/data/boston_housing.npz`` or Keras' cache where found). IMDB and Reuters are
synthetic, with the real sets' sizes and about as many distinct words a row (this benchmark never
downloads). The libraries' epochs alternate, each after a pause that lets the previous library's
threads sleep; figures are medians. Peak is the FMA throughput of every thread at once, measured
in the same run; "share of peak" counts the GEMMs of a dense step.

Nothing here sets an environment variable: numpy's BLAS runs as it would in a user's program.
With threadpoolctl installed, ``--threads`` also limits numpy's BLAS (otherwise it uses every CPU).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import fastnn
from fastnn import _C, ops

from ._env import cpu_name
from .numpy_mlp import NumpyMLP
from .synthetic import densify, multi_hot_rows, text_labels
from .train import import_torch, gemm_flops_per_sample, load_data


@dataclass
class Case:
    name: str
    sizes: List[int]
    loss: str
    batch: int
    x: Any  # float32 array, or a scipy CSR matrix for fastnn's sparse cell
    y: np.ndarray
    source: str
    passes: int = 1  # epochs per timed sample (Boston's epoch is a few milliseconds)
    peers_x: Any = None  # the dense array the peers train on when x is sparse
    times: Dict[str, float] = field(default_factory=dict)  # median seconds per epoch


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for every library")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per case and library")
    p.add_argument("--quick", action="store_true",
                   help="a fifth of each data set, 1 epoch, fewer samples, no square GEMMs")
    p.add_argument("--only", nargs="+", default=None,
                   choices=["mnist", "imdb", "reuters", "boston", "predict", "gemm", "mixed",
                            "bf16"],
                   help="run only these parts (bf16: MNIST under mixed_bfloat16 against float32 "
                        "and PyTorch's autocast)")
    p.add_argument("--samples", type=int, default=None,
                   help="timed samples per latency and GEMM figure (default 7, quick 3)")
    p.add_argument("--data", default=None, help="folder with Fashion-MNIST's IDX files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="chart of fastnn's time against each peer's (matplotlib)")
    return p.parse_args(argv)


# ---- the machine -----------------------------------------------------------------------------
def _cpu_flags() -> List[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
                            if x in have]
    except OSError:
        pass
    return []


def describe_machine(threads: int, torch: Any) -> float:
    """Prints the CPU, the software and the peak; returns the peak in flop/s."""
    c = _C.cache_sizes()
    print(f"CPU: {cpu_name()}; {os.cpu_count()} CPU(s); SIMD: {' '.join(_cpu_flags()) or '?'}; "
          f"caches: L1d {c['l1d'] >> 10} KiB, L2 {c['l2'] >> 10} KiB per core, "
          f"L3 {c['l3'] >> 20} MiB (from {c['source']})")
    print(f"fastnn {fastnn.__version__}: kernel path {_C.arch()}, GEMM {_C.gemm_kernel()}; "
          f"numpy {np.__version__}; "
          f"pytorch {torch.__version__ if torch else 'not installed (pip install torch)'}")
    blas = _limit_numpy_threads(threads)
    print(f"threads: fastnn {threads}, pytorch {threads if torch else '-'}, numpy's BLAS {blas}; "
          f"no environment variable set by this benchmark")
    peak = _C.measure_peak_flops(1.0)
    print(f"peak: {peak / 1e9:.1f} GFLOP/s (float32 FMA, {threads} thread(s) at once)")
    return peak


def _limit_numpy_threads(threads: int) -> str:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return "its default (install threadpoolctl to set it)"
    threadpool_limits(limits=threads, user_api="blas")
    counts = sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
    return "/".join(map(str, counts)) or "none found"


# ---- the cases -------------------------------------------------------------------------------
def _boston(seed: int) -> Tuple[np.ndarray, np.ndarray, str]:
    """Boston housing's 404 training rows, normalised as the book does; or synthetic rows. The
    file is looked for beside the project and where fastnn and Keras keep it, never downloaded."""
    from fastnn.datasets import boston_housing

    here = Path(__file__).resolve()
    places = [p / ".." / "shared" / "data" for p in here.parents[:5]]
    places.append(Path.cwd() / ".." / "shared" / "data")
    if os.environ.get("FASTNN_DATA"):
        places.append(Path(os.environ["FASTNN_DATA"]))
    places += [Path.home() / ".fastnn" / "datasets", Path.home() / ".keras" / "datasets"]
    for place in places:
        path = place / "boston_housing.npz"
        if path.is_file():
            (x, y), _ = boston_housing.load_data(str(path))
            source = f"Boston housing from {path.resolve()}"
            break
    else:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((404, 13))
        y = x @ rng.standard_normal(13) + 22
        source = "SYNTHETIC data of Boston's shape (no boston_housing.npz found)"
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32), y.astype(np.float32), source


def _text(rows: int, nnz: int, classes: int, seed: int) -> Tuple[np.ndarray, np.ndarray,
                                                                 Tuple[np.ndarray, np.ndarray]]:
    indptr, indices = multi_hot_rows(rows, 10000, nnz, seed)
    labels = text_labels(indptr, indices, 10000, classes, seed + 1)
    return densify(indptr, indices, 10000), labels, (indptr, indices)


def make_cases(args: argparse.Namespace) -> List[Case]:
    want = set(args.only or ["mnist", "imdb", "reuters", "boston"])
    shrink = 5 if args.quick else 1
    cases: List[Case] = []
    if "mnist" in want:
        (x, y, _, _), source = load_data(args.data, args.seed)
        x, y = x[:len(x) // shrink], y[:len(y) // shrink]
        source = source.split(" from ")[0] + f" ({len(x)} images)"
        for batch in (128, 32):
            cases.append(Case(f"MNIST b{batch}", [784, 512, 10],
                              "sparse_categorical_crossentropy", batch, x, y, source))
    if "imdb" in want:
        x, y, (indptr, indices) = _text(25000 // shrink, 120, 2, args.seed)
        source = f"SYNTHETIC IMDB-like ({len(x)} x 10000, {len(indices) / len(x):.0f} words a row)"
        cases.append(Case("IMDB b512", [10000, 16, 16, 1], "binary_crossentropy", 512, x, y,
                          source))
        try:
            import scipy.sparse as sp
        except ImportError:
            print("IMDB CSR: skipped, scipy is not installed (pip install \"fastnn[scipy]\")")
        else:
            csr = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                shape=x.shape)
            cases.append(Case("IMDB CSR b512", [10000, 16, 16, 1], "binary_crossentropy", 512,
                              csr, y, source + "; fastnn from CSR, the peers dense", peers_x=x))
    if "reuters" in want:
        x, y, (_, indices) = _text(8982 // shrink, 90, 46, args.seed + 2)
        cases.append(Case("Reuters b512", [10000, 64, 64, 46], "sparse_categorical_crossentropy",
                          512, x, y, f"SYNTHETIC Reuters-like ({len(x)} x 10000, "
                          f"{len(indices) / len(x):.0f} words a row)"))
    if "boston" in want:
        x, y, source = _boston(args.seed)
        cases.append(Case("Boston b16", [13, 64, 64, 1], "mse", 16, x, y, source,
                          passes=4 if args.quick else 20))
    return cases


# ---- the contenders --------------------------------------------------------------------------
class Trainer:
    name = ""

    def epoch(self) -> None:
        raise NotImplementedError


class FastnnTrainer(Trainer):
    def __init__(self, case: Case, seed: int, policy: str = "float32"):
        from fastnn import layers, models, utils

        self.name = "fastnn" if policy == "float32" else f"fastnn {policy}"
        utils.set_random_seed(seed)
        out = {"sparse_categorical_crossentropy": "softmax", "binary_crossentropy": "sigmoid",
               "mse": None}[case.loss]
        model = models.Sequential([layers.Input((case.sizes[0],))])
        for width in case.sizes[1:-1]:
            model.add(layers.Dense(width, activation="relu", dtype=policy))
        model.add(layers.Dense(case.sizes[-1], activation=out, dtype=policy))
        model.compile("rmsprop", case.loss, metrics=["mae" if case.loss == "mse" else "accuracy"])
        self.model, self.case, self.done = model, case, 0
        self.rng = utils.get_rng()  # fit shuffles with the global generator: keep our own

    def epoch(self) -> None:
        from fastnn import utils

        utils._rng = self.rng
        c = self.case
        self.model.fit(c.x, c.y, batch_size=c.batch, epochs=self.done + c.passes,
                       initial_epoch=self.done, verbose=0)
        self.done += c.passes


class NumpyTrainer(Trainer):
    name = "numpy"

    def __init__(self, case: Case, seed: int):
        self.mlp, self.case = NumpyMLP(case.sizes, seed, loss=case.loss), case
        self.x = case.x if case.peers_x is None else case.peers_x

    def epoch(self) -> None:
        for _ in range(self.case.passes):
            self.mlp.epoch(self.x, self.case.y, self.case.batch)


class TorchTrainer(Trainer):
    def __init__(self, torch: Any, case: Case, seed: int, autocast: bool = False):
        self.name = "pytorch autocast bf16" if autocast else "pytorch"
        self.autocast = autocast
        nn = torch.nn
        torch.manual_seed(seed)
        mods: List[Any] = []
        for i, (a, b) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
            lin = nn.Linear(a, b)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            mods += [lin] + ([nn.ReLU()] if i < len(case.sizes) - 2 else [])
        self.torch, self.net, self.case = torch, nn.Sequential(*mods), case
        # torch's RMSprop adds eps outside the square root; with eps = 1e-7 that is immaterial.
        self.opt = torch.optim.RMSprop(self.net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        x = case.x if case.peers_x is None else case.peers_x
        self.x = torch.from_numpy(x)
        if case.loss == "sparse_categorical_crossentropy":
            self.loss, self.y = nn.CrossEntropyLoss(), torch.from_numpy(case.y)
        else:
            self.loss = nn.BCEWithLogitsLoss() if case.loss == "binary_crossentropy" \
                else nn.MSELoss()
            self.y = torch.from_numpy(case.y.reshape(-1, 1))
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self) -> None:
        for _ in range(self.case.passes):
            order = self.torch.randperm(len(self.x), generator=self.gen)
            for start in range(0, len(self.x), self.case.batch):
                rows = order[start:start + self.case.batch]
                self.opt.zero_grad(set_to_none=True)
                with self.torch.autocast("cpu", dtype=self.torch.bfloat16,
                                         enabled=self.autocast):
                    loss = self.loss(self.net(self.x[rows]), self.y[rows])
                loss.backward()
                self.opt.step()


def train_case(case: Case, torch: Any, args: argparse.Namespace, epochs: int,
               mixed: bool = False) -> List[Trainer]:
    """Times ``epochs`` samples of every library on the case, in rotating order, after a warm-up
    epoch each; fills case.times and returns the trainers, fastnn's first (its model for
    predict). mixed: fastnn under mixed_bfloat16 and PyTorch under autocast too."""
    trainers: List[Trainer] = [FastnnTrainer(case, args.seed)]
    if mixed:
        trainers.append(FastnnTrainer(case, args.seed, "mixed_bfloat16"))
    else:
        trainers.append(NumpyTrainer(case, args.seed))
    if torch is not None:
        trainers.append(TorchTrainer(torch, case, args.seed))
        if mixed:
            trainers.append(TorchTrainer(torch, case, args.seed, autocast=True))
    for t in trainers:
        t.epoch()  # first-call costs: packing buffers, thread pools, allocator
    samples: Dict[str, List[float]] = {t.name: [] for t in trainers}
    for e in range(epochs):
        for t in trainers[e % len(trainers):] + trainers[:e % len(trainers)]:
            time.sleep(0.3)  # the previous library's threads spin for up to ~0.1 s
            t0 = time.perf_counter()
            t.epoch()
            samples[t.name].append((time.perf_counter() - t0) / case.passes)
    case.times = {name: statistics.median(s) for name, s in samples.items()}
    return trainers


# ---- latency and GEMMs -----------------------------------------------------------------------
def _per_call(fn: Callable[[], Any], min_seconds: float) -> float:
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= min_seconds:
            return t / n
        n = max(2 * n, int(n * min_seconds / max(t, 1e-9) * 1.2))


def alternate(fns: Dict[str, Callable[[], Any]], samples: int,
              min_seconds: float) -> Dict[str, float]:
    """Median seconds per call of each function, sampled in turn (a loop of calls each). Each
    sample starts after a pause that lets the previous library's threads stop spinning: this
    measures each library on its own (``mixed_with_numpy`` measures them interleaved)."""
    out: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(samples):
        for k, fn in fns.items():
            time.sleep(0.2)
            fn()
            out[k].append(_per_call(fn, min_seconds))
    return {k: statistics.median(v) for k, v in out.items()}


def predict_latency(model: Any, x: np.ndarray, torch: Any, samples: int) -> List[List[str]]:
    """fastnn's ``predict`` against numpy's ``np.maximum(x @ W1 + b1, 0) @ W2 + b2`` and
    PyTorch's module call in inference mode, on 1 and 32 rows (checked equal first)."""
    w1, b1, w2, b2 = model.get_weights()
    rows = []
    net = None
    if torch is not None:
        net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 10))
        with torch.no_grad():
            for lin, w, b in ((net[0], w1, b1), (net[2], w2, b2)):
                lin.weight.copy_(torch.from_numpy(w.T))
                lin.bias.copy_(torch.from_numpy(b))
    for n in (1, 32):
        xs = np.ascontiguousarray(x[:n])
        logits = np.maximum(xs @ w1 + b1, 0) @ w2 + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        if not np.allclose(model.predict(xs, verbose=0), e / e.sum(axis=1, keepdims=True),
                           atol=1e-5):
            sys.exit("predict: fastnn disagrees with numpy")
        fns: Dict[str, Callable[[], Any]] = {
            "fastnn": lambda: model.predict(xs, verbose=0),  # noqa: B023
            "numpy": lambda: np.maximum(xs @ w1 + b1, 0) @ w2 + b2,  # noqa: B023
        }
        if net is not None:
            xt = torch.from_numpy(xs)

            def torch_call(xt: Any = xt) -> Any:
                with torch.inference_mode():
                    return net(xt)

            fns["pytorch"] = torch_call
        t = alternate(fns, samples, 0.02)
        rows.append([f"predict {n} row{'s' if n > 1 else ''}", _fmt(t["fastnn"]), _fmt(t["numpy"]),
                     _ratio(t, "numpy"), _fmt(t.get("pytorch")), _ratio(t, "pytorch")])
    return rows


# The MNIST network's GEMMs at batch 128: forward, the first layer's weight gradient, the
# hidden layer's input gradient; then squares, where packing pays for itself (not with --quick).
GEMMS = [("(128x784).(784x512)", 128, 784, 512, False, False),
         ("(128x512).(512x10)", 128, 512, 10, False, False),
         ("(784x128)^T.(128x512)", 784, 128, 512, True, False),
         ("(128x10).(10x512)^T", 128, 10, 512, False, True),
         ("1024^3", 1024, 1024, 1024, False, False),
         ("2048^3", 2048, 2048, 2048, False, False)]


def _gemm_operands(m: int, k: int, n: int, ta: bool, tb: bool, rng: np.random.Generator) -> \
        Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return a, b, (a.T if ta else a), (b.T if tb else b)


def gemm_rates(torch: Any, samples: int, quick: bool) -> List[List[str]]:
    """GFLOP/s of fastnn's ``ops.matmul``, numpy's and ``torch.matmul``, sampled in turn."""
    rng = np.random.default_rng(1)
    rows = []
    for name, m, k, n, ta, tb in GEMMS[:4] if quick else GEMMS:
        a, b, opa, opb = _gemm_operands(m, k, n, ta, tb, rng)
        cf, cn = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        ops.matmul(a, b, trans_a=ta, trans_b=tb, out=cf)
        ref = opa.astype(np.float64) @ opb.astype(np.float64)
        if not np.abs(cf - ref).max() <= 1e-5 * np.abs(ref).max():
            sys.exit(f"matmul {name}: fastnn disagrees with numpy")
        fns: Dict[str, Callable[[], Any]] = {
            "fastnn": lambda: ops.matmul(a, b, trans_a=ta, trans_b=tb, out=cf),  # noqa: B023
            "numpy": lambda: np.matmul(opa, opb, out=cn)}  # noqa: B023
        if torch is not None:
            ta_, tb_, tc = torch.from_numpy(opa), torch.from_numpy(opb), torch.from_numpy(cn)
            fns["pytorch"] = lambda: torch.matmul(ta_, tb_, out=tc)  # noqa: B023
        t = alternate(fns, samples, 0.02 if m * n * k < 1e8 else 0.1)
        fl = 2.0 * m * n * k / 1e9
        rows.append([name, f"{fl / t['fastnn']:.1f}", f"{fl / t['numpy']:.1f}",
                     f"{fl / t['pytorch']:.1f}" if "pytorch" in t else "-",
                     _ratio(t, "numpy"), _ratio(t, "pytorch")])
    return rows


def mixed_with_numpy(samples: int, quick: bool) -> List[List[str]]:
    """Each library's GEMM rate measured apart (a loop of its own calls, after a pause that lets
    the other's threads sleep) and interleaved (numpy, fastnn, numpy, fastnn, ... in one loop):
    how much of its own speed each keeps next to the other."""
    rng = np.random.default_rng(2)
    rows = []
    for name, m, k, n, ta, tb in GEMMS[:4] if quick else GEMMS:
        a, b, opa, opb = _gemm_operands(m, k, n, ta, tb, rng)
        cf, cn = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        # about 50 ms of work a loop (5 ms when quick), or 5 calls
        calls = max(5, int((1e9 if quick else 1e10) / (2 * m * n * k)))
        fns: Dict[str, Callable[[], Any]] = {
            "fastnn": lambda: ops.matmul(a, b, trans_a=ta, trans_b=tb, out=cf),  # noqa: B023
            "numpy": lambda: np.matmul(opa, opb, out=cn)}  # noqa: B023
        apart: Dict[str, List[float]] = {"fastnn": [], "numpy": []}
        mixed: Dict[str, List[float]] = {"fastnn": [], "numpy": []}
        for _ in range(samples):
            for lib, fn in fns.items():
                time.sleep(0.3)
                fn()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                apart[lib].append((time.perf_counter() - t0) / calls)
            spent = {"fastnn": 0.0, "numpy": 0.0}
            for _ in range(calls):
                for lib in ("numpy", "fastnn"):
                    t0 = time.perf_counter()
                    fns[lib]()
                    spent[lib] += time.perf_counter() - t0
            for lib in spent:
                mixed[lib].append(spent[lib] / calls)
        med = {f"{kind} {lib}": statistics.median(v[lib])
               for kind, v in (("apart", apart), ("mixed", mixed)) for lib in ("fastnn", "numpy")}
        fl = 2.0 * m * n * k / 1e9
        rows.append([name, f"{fl / med['apart fastnn']:.1f}", f"{fl / med['apart numpy']:.1f}",
                     f"{med['apart numpy'] / med['apart fastnn']:.2f}x",
                     f"{fl / med['mixed fastnn']:.1f}", f"{fl / med['mixed numpy']:.1f}",
                     f"{100 * med['apart fastnn'] / med['mixed fastnn']:.0f} %",
                     f"{100 * med['apart numpy'] / med['mixed numpy']:.0f} %"])
    return rows


# ---- reporting -------------------------------------------------------------------------------
def _fmt(t: Optional[float]) -> str:
    if t is None:
        return "-"
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.3f} s"


def _ratio(times: Dict[str, float], peer: str) -> str:
    return f"{times['fastnn'] / times[peer]:.2f}" if peer in times else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _runs_sparse(c: Case) -> bool:
    """Whether fastnn's first layer multiplies only the non-zeros: a CSR input, or a dense one
    wide and sparse enough that each batch runs as sparse rows (the engine's own rule); the
    dense GEMM count then says nothing of its speed."""
    if c.peers_x is not None:
        return True
    x = c.x
    return bool(x.shape[1] >= _C.dense_as_sparse_min_width and
                np.count_nonzero(x) <= _C.dense_as_sparse_max_density * x.size)


def training_rows(cases: Sequence[Case], peak: float) -> List[List[str]]:
    rows = []
    for c in cases:
        t = c.times
        share = gemm_flops_per_sample(c.sizes) * len(c.y) / t["fastnn"] / peak
        rows.append([c.name, "-".join(map(str, c.sizes)), _fmt(t["fastnn"]), _fmt(t["numpy"]),
                     _ratio(t, "numpy"), _fmt(t.get("pytorch")), _ratio(t, "pytorch"),
                     "(sparse rows)" if _runs_sparse(c) else f"{100 * share:.0f} %"])
    return rows


def plot(path: str, cases: Sequence[Case]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot: matplotlib is not installed; no chart written to {path}")
        return
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(cases)))
    names = [c.name for c in cases]
    ys = np.arange(len(cases))
    for i, peer in enumerate(("numpy", "pytorch")):
        vals = [c.times["fastnn"] / c.times[peer] if peer in c.times else 0 for c in cases]
        ax.barh(ys + (i - 0.5) * 0.4, vals, 0.4, label=f"fastnn / {peer}")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlabel("fastnn's epoch time / the peer's (lower is better)")
    ax.set_title(cpu_name(), fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart written to {path}")


def main(args: argparse.Namespace) -> None:
    fastnn.set_num_threads(args.threads)
    torch = import_torch(args.no_torch)
    if torch is not None:
        torch.set_num_threads(args.threads)
    peak = describe_machine(args.threads, torch)
    epochs = 1 if args.quick else args.epochs
    samples = args.samples or (3 if args.quick else 7)
    parts = set(args.only or ["mnist", "imdb", "reuters", "boston", "predict", "gemm", "mixed",
                              "bf16"])
    cases = make_cases(args)
    mnist_model = None
    if cases:
        print(f"\ntraining: seconds per epoch, medians of {epochs} alternating epoch(s) after a "
              "warm-up one; ratio = fastnn's time / the peer's")
        for c in cases:
            print(f"  {c.name}: {c.source}", flush=True)
            trainer = train_case(c, torch, args, epochs)[0]
            if c.name == "MNIST b128":
                mnist_model = trainer.model  # type: ignore[attr-defined]
        print()
        table(["case", "network", "fastnn", "numpy", "ratio", "pytorch", "ratio",
               "fastnn's share of peak"], training_rows(cases, peak))
        by_name = {c.name: c for c in cases}
        if "MNIST b32" in by_name and "MNIST b128" in by_name:
            ratio = by_name["MNIST b32"].times["fastnn"] / by_name["MNIST b128"].times["fastnn"]
            print(f"\nMNIST: the batch-32 epoch takes {ratio:.2f}x the batch-128 epoch (fastnn)")
    if "predict" in parts:
        if mnist_model is None:
            mnist_model = FastnnTrainer(Case("MNIST", [784, 512, 10],
                                             "sparse_categorical_crossentropy", 128,
                                             np.zeros((1, 784), np.float32),
                                             np.zeros(1, np.int64), ""), args.seed).model
        x = np.random.default_rng(args.seed).random((32, 784), dtype=np.float32)
        print("\npredict latency (784-512-10; numpy: np.maximum(x @ W1 + b1, 0) @ W2 + b2; "
              "pytorch: the module in inference mode); ratio = fastnn / peer")
        table(["call", "fastnn", "numpy", "ratio", "pytorch", "ratio"],
              predict_latency(mnist_model, x, torch, samples))
    if "gemm" in parts:
        print("\nGEMM rates, GFLOP/s (medians of alternating samples); ratio = fastnn's time / "
              "the peer's")
        table(["shape", "fastnn", "numpy", "pytorch", "ratio numpy", "ratio pytorch"],
              gemm_rates(torch, samples, args.quick))
    if "mixed" in parts:
        print("\nnext to numpy: GFLOP/s measured apart, then with the two libraries' calls "
              "interleaved in one loop (no environment variable set)")
        table(["shape", "fastnn apart", "numpy apart", "fastnn / numpy", "fastnn mixed",
               "numpy mixed", "fastnn keeps", "numpy keeps"], mixed_with_numpy(samples, args.quick))
    if "bf16" in parts:
        mixed_precision(args, torch, epochs, samples)
    if args.plot and cases:
        plot(args.plot, cases)


def mixed_precision(args: argparse.Namespace, torch: Any, epochs: int, samples: int) -> None:
    """MNIST at batch 128 in float32 and under mixed_bfloat16, PyTorch in float32 and under
    autocast; and predict on 10,000 rows under either policy."""
    (x, y, xt, _), source = load_data(args.data, args.seed)
    shrink = 5 if args.quick else 1
    case = Case("MNIST b128", [784, 512, 10], "sparse_categorical_crossentropy", 128,
                x[:len(x) // shrink], y[:len(y) // shrink], source)
    print(f"\nmixed_bfloat16 (bfloat16 GEMM kernel {_C.bf16_gemm_kernel()}; CPU has "
          f"AVX512-BF16: {_C.cpu_supports_avx512_bf16()}): MNIST b128, seconds per epoch",
          flush=True)
    trainers = train_case(case, torch, args, epochs, mixed=True)
    t = case.times
    mix, f32 = t["fastnn mixed_bfloat16"], t["fastnn"]
    auto = t.get("pytorch autocast bf16")
    table(["fastnn float32", "fastnn mixed_bfloat16", "mixed / float32", "pytorch float32",
           "pytorch autocast bf16", "mixed / autocast"],
          [[_fmt(f32), _fmt(mix), f"{mix / f32:.2f}", _fmt(t.get("pytorch")), _fmt(auto),
            f"{mix / auto:.2f}" if auto else "-"]])
    rows = xt[:10000]
    models_ = [tr.model for tr in trainers[:2]]  # type: ignore[attr-defined]
    calls: Dict[str, Callable[[], Any]] = {
        name: functools.partial(m.predict, rows, batch_size=len(rows), verbose=0)
        for name, m in zip(("float32", "mixed_bfloat16"), models_)}
    times = alternate(calls, samples, 0.05)
    print(f"predict on {len(rows)} rows: float32 {_fmt(times['float32'])}, mixed_bfloat16 "
          f"{_fmt(times['mixed_bfloat16'])}: {times['mixed_bfloat16'] / times['float32']:.2f}x")


def run(argv: Optional[Sequence[str]] = None) -> None:
    main(parse_args(sys.argv[1:] if argv is None else list(argv)))


if __name__ == "__main__":
    run()
