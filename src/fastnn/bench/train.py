"""Training benchmark: the book's MLP trained by fastnn, by numpy written by hand and by PyTorch
(when importable), epoch by epoch in turn, in one process.

    python bench/train.py                     # Fashion-MNIST, 3 epochs, 2 threads
    python bench/train.py --epochs 1 --no-torch --plot train.png
    python bench/train.py --dtype-policy mixed_bfloat16   # and float32, and PyTorch's autocast
    python -m fastnn.bench.train --help       # the same, from an installed fastnn

Data: Fashion-MNIST from ``--data DIR``, ``../shared/data/fashion-mnist`` (beside the project),
``$FASTNN_DATA/fashion-mnist`` or Debian's ``/usr/share/datasets/fashion-mnist``; failing those,
synthetic data of the same shape (said so in the output). Every library trains the same model
(784-512 relu-10 softmax, Glorot-uniform weights, zero biases, mean cross-entropy, RMSprop with
Keras' defaults, batch 128, a new shuffle each epoch) and gets the same thread count; the epochs
of the libraries alternate so that machine noise hits all of them alike. Figures are medians
over epochs. FLOPs count the GEMMs only (forward, weight gradients, input gradients below the
first layer); peak is measured in the same run: an FMA loop on one core, times the threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import fastnn
from fastnn import _C

from ._env import rerun_with_blas_threads
from .numpy_mlp import NumpyMLP

Data = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="threads for every library")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="folder with Fashion-MNIST's IDX files")
    p.add_argument("--train-size", type=int, default=None, help="use only this many training images")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    p.add_argument("--unfused", action="store_true",
                   help="also train fastnn op by op (compile(run_eagerly=True))")
    p.add_argument("--functional", action="store_true",
                   help="also train the same network built with the functional API (models.Model)")
    p.add_argument("--predict", action="store_true",
                   help="also time inference on the test set against numpy")
    p.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"],
                   help="mixed_bfloat16: also train fastnn under that policy (bfloat16 GEMM "
                        "operands), and PyTorch under torch.autocast('cpu', torch.bfloat16)")
    p.add_argument("--plot", default=None, metavar="FILE", help="bar chart of epoch times (matplotlib)")
    return p.parse_args(argv)


# ---- data ------------------------------------------------------------------------------------
def _fashion_places(explicit: Optional[str]) -> List[Path]:
    places = [Path(explicit)] if explicit else []
    here = Path(__file__).resolve()
    places += [parent / ".." / "shared" / "data" / "fashion-mnist" for parent in here.parents[:5]]
    places.append(Path.cwd() / ".." / "shared" / "data" / "fashion-mnist")
    if os.environ.get("FASTNN_DATA"):
        places.append(Path(os.environ["FASTNN_DATA"]) / "fashion-mnist")
    places.append(Path("/usr/share/datasets/fashion-mnist"))
    return places


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255


def load_data(explicit: Optional[str], seed: int) -> Tuple[Data, str]:
    """Fashion-MNIST as float32 (n, 784) in [0, 1] with integer labels, or synthetic data."""
    from fastnn.datasets._files import load_from

    for place in _fashion_places(explicit):
        if place.is_dir():
            found = load_from(place, "fashion-mnist.npz")
            if found is not None:
                (xtr, ytr), (xte, yte) = found
                return (_flat(xtr), ytr.astype(np.int64), _flat(xte), yte.astype(np.int64)), \
                    f"Fashion-MNIST from {place.resolve()}"
    if explicit:
        sys.exit(f"--data {explicit}: no Fashion-MNIST IDX files there")
    # Learnable but not trivial: ten random prototype images, each sample one of them plus noise.
    rng = np.random.default_rng(seed)
    prototypes = rng.random((10, 784), dtype=np.float32)
    y = rng.integers(0, 10, 70000)
    x = prototypes[y] + rng.normal(0, 1.5, (70000, 784)).astype(np.float32)
    np.clip(x, 0, 1, out=x)
    return (x[:60000], y[:60000], x[60000:], y[60000:]), \
        "SYNTHETIC data of Fashion-MNIST's shape (no Fashion-MNIST found)"


# ---- the contenders --------------------------------------------------------------------------
class Contender:
    name = ""

    def epoch(self) -> None:
        raise NotImplementedError

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError


class FastnnContender(Contender):
    def __init__(self, data: Data, sizes: Sequence[int], batch: int, seed: int, fused: bool,
                 functional: bool = False, policy: str = "float32"):
        from fastnn import layers, models, utils

        self.name = "fastnn" + (" functional" if functional else "") + \
            ("" if fused else " op by op") + ("" if policy == "float32" else f" {policy}")
        utils.set_random_seed(seed)
        if functional:
            x = inputs = layers.Input((sizes[0],))
            for width in sizes[1:-1]:
                x = layers.Dense(width, activation="relu", dtype=policy)(x)
            model = models.Model(inputs, layers.Dense(sizes[-1], activation="softmax",
                                                      dtype=policy)(x))
        else:
            model = models.Sequential([layers.Input((sizes[0],))])
            for width in sizes[1:-1]:
                model.add(layers.Dense(width, activation="relu", dtype=policy))
            model.add(layers.Dense(sizes[-1], activation="softmax", dtype=policy))
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], run_eagerly=not fused)
        self.model, self.x, self.y, self.batch, self.done = model, data[0], data[1], batch, 0
        # fit shuffles with fastnn's global generator: each model keeps its own, so that the
        # models see the same batches.
        self.rng = utils.get_rng()

    def epoch(self) -> None:
        from fastnn import utils

        utils._rng = self.rng
        self.model.fit(self.x, self.y, batch_size=self.batch, epochs=self.done + 1,
                       initial_epoch=self.done, verbose=0)
        self.done += 1

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.model.predict(x, batch_size=1000).argmax(axis=1) == y))


class NumpyContender(Contender):
    name = "numpy"

    def __init__(self, data: Data, sizes: Sequence[int], batch: int, seed: int):
        self.mlp, self.x, self.y, self.batch = NumpyMLP(sizes, seed), data[0], data[1], batch

    def epoch(self) -> None:
        self.mlp.epoch(self.x, self.y, self.batch)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.mlp.accuracy(x, y)


class TorchContender(Contender):
    def __init__(self, torch: Any, data: Data, sizes: Sequence[int], batch: int, seed: int,
                 threads: int, autocast: bool = False):
        nn = torch.nn
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        self.name = "pytorch autocast bf16" if autocast else "pytorch"
        self.autocast = autocast
        self.version = torch.__version__
        mods: List[Any] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            lin = nn.Linear(a, b)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            mods += [lin] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
        self.torch, self.net = torch, nn.Sequential(*mods)
        # torch's RMSprop adds eps outside the square root; with eps = 1e-7 that is immaterial.
        self.opt = torch.optim.RMSprop(self.net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        self.loss = nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(data[0]), torch.from_numpy(data[1])
        self.batch = batch
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self) -> None:
        order = self.torch.randperm(len(self.x), generator=self.gen)
        for start in range(0, len(self.x), self.batch):
            rows = order[start:start + self.batch]
            self.opt.zero_grad(set_to_none=True)
            # PyTorch's recipe: the forward pass and the loss under autocast, backward outside.
            with self.torch.autocast("cpu", dtype=self.torch.bfloat16, enabled=self.autocast):
                loss = self.loss(self.net(self.x[rows]), self.y[rows])
            loss.backward()
            self.opt.step()

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        with self.torch.no_grad(), self.torch.autocast("cpu", dtype=self.torch.bfloat16,
                                                        enabled=self.autocast):
            out = self.net(self.torch.from_numpy(x)).float().numpy()
        return float(np.mean(out.argmax(axis=1) == y))


def import_torch(skip: bool) -> Any:
    if skip:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---- measuring -------------------------------------------------------------------------------
def gemm_flops_per_sample(sizes: Sequence[int]) -> float:
    """Forward, weight gradients, and input gradients of every layer but the first."""
    pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * (2 * sum(pairs) + sum(pairs[1:]))


def time_epochs(contenders: List[Contender], epochs: int) -> Dict[str, List[float]]:
    """Seconds of each epoch of each contender. The order rotates every epoch, and a pause before
    each epoch lets the previous library's threads (OpenMP and OpenBLAS spin after their work)
    go to sleep, so no library pays for the one before it."""
    times: Dict[str, List[float]] = {c.name: [] for c in contenders}
    for e in range(epochs):
        for c in contenders[e % len(contenders):] + contenders[:e % len(contenders)]:
            time.sleep(0.5)
            t0 = time.perf_counter()
            c.epoch()
            times[c.name].append(time.perf_counter() - t0)
        print(f"  epoch {e + 1}: " + ", ".join(f"{c.name} {times[c.name][-1]:.3f} s" for c in contenders),
              flush=True)
    return times


def time_predict(model: Any, x: np.ndarray, samples: int = 7) -> Tuple[float, float, int]:
    """Median seconds of fastnn's predict and of numpy's ``np.maximum(x @ W1 + b1, 0) @ W2 + b2``
    on x, alternately; and the batch size fastnn used."""
    w1, b1, w2, b2 = model.get_weights()
    batch = len(x)
    ours: Callable[[], Any] = lambda: model.predict(x, batch_size=batch)  # noqa: E731
    ref: Callable[[], Any] = lambda: np.maximum(x @ w1 + b1, 0) @ w2 + b2  # noqa: E731
    probs, logits = ours(), ref()
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    if not np.allclose(probs, exp / exp.sum(axis=1, keepdims=True), atol=1e-5):
        sys.exit("predict: fastnn disagrees with numpy")
    tf: List[float] = []
    tr: List[float] = []
    for _ in range(samples):
        for fn, acc in ((ours, tf), (ref, tr)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(tf), statistics.median(tr), batch


def time_policies(f32: Contender, mixed: Contender, x: np.ndarray,
                  samples: int = 9) -> Tuple[float, float]:
    """Median seconds of predict on x under float32 and under mixed_bfloat16, alternately."""
    models_ = [f32.model, mixed.model]  # type: ignore[attr-defined]
    times: List[List[float]] = [[], []]
    for m in models_:
        m.predict(x, batch_size=len(x), verbose=0)
    for _ in range(samples):
        for m, acc in zip(models_, times):
            t0 = time.perf_counter()
            m.predict(x, batch_size=len(x), verbose=0)
            acc.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def plot(path: str, medians: Dict[str, float], title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot: matplotlib is not installed; no chart written to {path}")
        return
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(medians)
    ax.barh(names, [medians[n] for n in names], color=["tab:green" if n == "fastnn" else "tab:gray" for n in names])
    ax.set_xlabel("seconds per epoch (median)")
    ax.set_title(title, fontsize=9)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart written to {path}")


def main(args: argparse.Namespace) -> None:
    fastnn.set_num_threads(args.threads)
    data, source = load_data(args.data, args.seed)
    if args.train_size:
        data = (data[0][:args.train_size], data[1][:args.train_size], data[2], data[3])
    sizes = [data[0].shape[1], args.hidden, 10]
    torch = import_torch(args.no_torch)
    # Peak: one core's measured FMA throughput times the threads (FMA units are per core; a
    # measurement across threads would count a preempted thread on this shared machine as slow).
    fastnn.set_num_threads(1)
    peak = _C.measure_peak_flops(1.0) * args.threads
    fastnn.set_num_threads(args.threads)
    flops = gemm_flops_per_sample(sizes) * len(data[0])
    print(f"data: {source} ({len(data[0])} train, {len(data[2])} test)")
    print(f"model {'-'.join(map(str, sizes))} relu/softmax, RMSprop, batch {args.batch_size}, "
          f"{args.epochs} epoch(s), seed {args.seed}, {args.threads} thread(s) per library")
    print(f"fastnn {fastnn.__version__}, numpy {np.__version__}, "
          f"pytorch {torch.__version__ if torch else 'not installed (pip install torch)'}")
    print(f"epoch: {flops / 1e9:.1f} GFLOP of GEMMs; peak {peak / 1e9:.1f} GFLOP/s "
          f"({args.threads} x one core's measured FMA throughput)")

    contenders: List[Contender] = [FastnnContender(data, sizes, args.batch_size, args.seed, True)]
    mixed = args.dtype_policy == "mixed_bfloat16"
    if mixed:
        print(f"mixed_bfloat16: fastnn's bfloat16 GEMM kernel {_C.bf16_gemm_kernel()} "
              f"(CPU has AVX512-BF16: {_C.cpu_supports_avx512_bf16()})")
        contenders.append(FastnnContender(data, sizes, args.batch_size, args.seed, True,
                                          policy="mixed_bfloat16"))
    if args.functional:
        contenders.append(FastnnContender(data, sizes, args.batch_size, args.seed, True, True))
    if args.unfused:
        contenders.append(FastnnContender(data, sizes, args.batch_size, args.seed, False))
    contenders.append(NumpyContender(data, sizes, args.batch_size, args.seed))
    if torch is not None:
        contenders.append(TorchContender(torch, data, sizes, args.batch_size, args.seed, args.threads))
        if mixed:
            contenders.append(TorchContender(torch, data, sizes, args.batch_size, args.seed,
                                             args.threads, autocast=True))
    times = time_epochs(contenders, args.epochs)
    med = {name: statistics.median(t) for name, t in times.items()}
    ours = med["fastnn"]
    print("\n| library | s / epoch (median) | fastnn / library | test accuracy | GFLOP/s | % of peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in contenders:
        m = med[c.name]
        # The peak is float32 FMAs': bfloat16 products run up to twice as fast, so no share.
        share = "-" if "bf16" in c.name or "bfloat16" in c.name else \
            f"{100 * flops / m / peak:.0f} %"
        print(f"| {c.name} | {m:.3f} | {ours / m:.2f} | {c.accuracy(data[2], data[3]):.4f} | "
              f"{flops / m / 1e9:.1f} | {share} |")
    if mixed:
        name = "fastnn mixed_bfloat16"
        line = f"\n{name} epoch / fastnn float32 epoch: {med[name] / ours:.2f}"
        if "pytorch autocast bf16" in med:
            line += f"; / pytorch autocast bf16: {med[name] / med['pytorch autocast bf16']:.2f}"
        print(line)
        tf32, tmix = time_policies(contenders[0], contenders[1], data[2])
        print(f"\npredict on {len(data[2])} images: fastnn float32 {tf32 * 1e3:.2f} ms, "
              f"mixed_bfloat16 {tmix * 1e3:.2f} ms: {tmix / tf32:.2f}x")
    if args.predict:
        model = contenders[0].model  # type: ignore[attr-defined]
        tf, tr, batch = time_predict(model, data[2])
        print(f"\npredict on {len(data[2])} images (batch {batch}): fastnn {tf * 1e3:.2f} ms, "
              f"numpy {tr * 1e3:.2f} ms: {tr / tf:.2f}x")
        for rows in (1, 32):  # latency: a call's fixed costs and the small-M GEMM path
            tf, tr, _ = time_predict(model, data[2][:rows], samples=301)
            print(f"predict on {rows} image(s): fastnn {tf * 1e6:.1f} us, numpy "
                  f"{tr * 1e6:.1f} us: {tr / tf:.2f}x")
    if args.plot:
        plot(args.plot, med, f"{'-'.join(map(str, sizes))}, batch {args.batch_size}, "
                             f"{args.threads} threads, {source.split(' from')[0].split(' (')[0]}")


def run(argv: Optional[Sequence[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    rerun_with_blas_threads("fastnn.bench.train", argv, args.threads)
    main(args)


if __name__ == "__main__":
    run()
