"""Sparse inputs benchmark: the book's IMDB network (multi-hot 10,000 words, 16-16-1, rmsprop,
binary cross-entropy, batch 512) trained from a scipy.sparse CSR matrix and from the same data
as a dense float32 array, each in its own process, so that each one's peak memory is its own.

    python bench/sparse.py                    # 25,000 x 10,000, ~230 words a row, 3 epochs
    python -m fastnn.bench.sparse --quick     # a small run, to check that it works

The data are synthetic and shaped like IMDB's: each row holds the distinct words of a review,
drawn with Zipf-like frequencies (rank r with probability ~ 1 / (r + 10)), and the labels come
from a hidden linear rule. Both runs see the same rows, seed and batches. Figures are medians
over epochs and rounds (the runs alternate). Needs scipy (``pip install "fastnn[scipy]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

from .synthetic import multi_hot_rows, text_labels


def imdb_like(rows: int, cols: int, nnz: int, seed: int) -> Any:
    """A (rows, cols) CSR multi-hot matrix with about ``nnz`` distinct columns a row, and
    binary labels from a hidden linear rule."""
    import scipy.sparse as sp

    indptr, indices = multi_hot_rows(rows, cols, nnz, seed)
    x = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(rows, cols))
    return x, text_labels(indptr, indices, cols, 2, seed + 1)


def peak_mib() -> float:
    """This process' peak resident memory. VmHWM, where Linux has it: ru_maxrss would carry the
    parent's peak over the fork and exec that started this process."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # ru_maxrss is in KiB on Linux, in bytes on macOS

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024 * 1024 if sys.platform == "darwin" else 1024)


def child(kind: str, data: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Trains once from ``kind`` ('csr' or 'dense') data read from the folder ``data``; per-epoch
    times, losses and the process' peak memory (which thus holds no trace of making the data)."""
    import scipy.sparse as sp

    import fastnn
    from fastnn import layers, models
    from fastnn.callbacks import Callback

    fastnn.set_num_threads(args.threads)
    # .npy files, which np.load reads straight into their arrays (from an .npz it would hold a
    # second copy of each while reading).
    x = sp.csr_matrix(tuple(np.load(os.path.join(data, f"{k}.npy"))
                            for k in ("data", "indices", "indptr")), shape=(args.rows, args.cols))
    y = np.load(os.path.join(data, "y.npy"))
    nnz = x.nnz
    if kind == "dense":
        x = x.toarray()  # float32, as the book's vectorize_sequences in float32
    fastnn.utils.set_random_seed(args.seed)
    model = models.Sequential([layers.Input((args.cols,)),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"])

    times: List[float] = []

    class Clock(Callback):
        def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
            times.append(time.perf_counter() - self.t)

    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                        callbacks=[Clock()])
    return {"times": times, "loss": history.history["loss"], "peak_mib": peak_mib(),
            "nnz": int(nnz), "plan": model.execution_plan()["fit"]}


def run(argv: Optional[List[str]] = None) -> None:
    """The command line: alternates the two runs and prints their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=25000)
    parser.add_argument("--cols", type=int, default=10000)
    parser.add_argument("--nnz", type=int, default=230, help="distinct words a row, about")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="dense and CSR runs, alternating")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 round of 2 epochs")
    parser.add_argument("--child", choices=["csr", "dense"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.rounds = 2000, 2, 1
    if args.child:
        print(json.dumps(child(args.child, args.data, args)))
        return
    try:
        import scipy  # noqa: F401
    except ImportError:
        print('bench/sparse.py needs scipy: pip install "fastnn[scipy]"')
        return
    from fastnn.bench._env import cpu_name

    print(f"CPU: {cpu_name()}; {args.threads} thread(s)")
    print(f"data: {args.rows} x {args.cols} multi-hot, about {args.nnz} words a row; "
          f"16-16-1, rmsprop, batch {args.batch_size}, {args.epochs} epoch(s), "
          f"{args.rounds} round(s)")
    results: Dict[str, List[Dict[str, Any]]] = {"dense": [], "csr": []}
    data = tempfile.mkdtemp()
    x, y = imdb_like(args.rows, args.cols, args.nnz, args.seed)
    for name, a in (("indptr", x.indptr), ("indices", x.indices), ("data", x.data), ("y", y)):
        np.save(os.path.join(data, f"{name}.npy"), a)
    del x, y
    base = [sys.executable, "-m", "fastnn.bench.sparse"] + [
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick"]
    for r in range(args.rounds):
        for kind in (("dense", "csr") if r % 2 == 0 else ("csr", "dense")):
            out = subprocess.run(base + ["--child", kind, "--data", data, "--rows", str(args.rows),
                                         "--epochs", str(args.epochs)],
                                 capture_output=True, text=True, check=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            results[kind].append(res)
            print(f"  round {r + 1} {kind:5s}: epochs "
                  f"{', '.join(f'{t:.3f}' for t in res['times'])} s, peak {res['peak_mib']:.0f} "
                  f"MiB", flush=True)
    shutil.rmtree(data)
    med = {k: statistics.median(t for res in v for t in res["times"]) for k, v in results.items()}
    peak = {k: max(res["peak_mib"] for res in v) for k, v in results.items()}
    dense_loss = np.array(results["dense"][0]["loss"])
    csr_loss = np.array(results["csr"][0]["loss"])
    rel = float(np.max(np.abs(csr_loss - dense_loss) / np.abs(dense_loss)))
    nnz = results["csr"][0]["nnz"]
    print(f"\nstored values: {nnz} ({nnz / args.rows:.0f} a row, "
          f"{100 * nnz / (args.rows * args.cols):.2f} % of the matrix)")
    print("| input | s / epoch (median) | CSR speed-up | peak memory (MiB) | losses |")
    print("|---|---:|---:|---:|---|")
    for k in ("dense", "csr"):
        losses = ", ".join(f"{v:.6f}" for v in results[k][0]["loss"])
        print(f"| {k} | {med[k]:.4f} | {med['dense'] / med[k]:.1f}x | {peak[k]:.0f} | "
              f"{losses} |")
    print(f"\nloss per epoch, CSR against dense: at most {rel:.1e} relative; peak memory "
          f"CSR / dense = {peak['csr'] / peak['dense']:.3f}; plan: {results['csr'][0]['plan']}")


if __name__ == "__main__":
    run()
