"""How long Ctrl-C takes to stop a long op or a fit: ``python bench/interrupt.py --help``.

The process sends itself SIGINT while products of two n x n matrices, or a fit on large
batches, run, and times from the signal to the KeyboardInterrupt in Python. Each case runs
several times in this process (the model is trained again after each interrupt, which shows that
it stays usable); the median and the worst are printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import fastnn
from fastnn import layers, models, ops


def latency(work: Callable[[], object], delay: float) -> float:
    """Milliseconds from a SIGINT sent ``delay`` s into work() to its KeyboardInterrupt."""
    sent: List[float] = []

    def interrupt() -> None:
        time.sleep(delay)
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt)
    sender.start()
    try:
        while True:  # until interrupted: the signal cannot come after the work
            work()
    except KeyboardInterrupt:
        caught = time.perf_counter()
    sender.join()
    return 1000 * (caught - sent[0])


def run(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=6000, help="n of the n x n product")
    parser.add_argument("--batch", type=int, default=20000, help="fit's batch size")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds before the signal")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 trials")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.trials = 2000, 4096, 2
    if args.threads:
        fastnn.set_num_threads(args.threads)
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        raise SystemExit("SIGINT does not raise KeyboardInterrupt here (an ignored or replaced "
                         "handler): nothing to measure")

    a = np.ones((args.size, args.size), np.float32)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    # Each case: the work to interrupt, and a check run after each interrupt (untimed).
    cases: Dict[str, Tuple[Callable[[], object], Callable[[], None]]] = {
        f"matmul {args.size}^3": (lambda: ops.matmul(a, a), lambda: None)}
    for eager in (False, True):
        model = models.Sequential([layers.Input((784,)), layers.Dense(1024, activation="relu"),
                                   layers.Dense(10, activation="softmax")])
        model.compile("rmsprop", "sparse_categorical_crossentropy", run_eagerly=eager)
        model.fit(x[:256], y[:256], verbose=0)  # compiled and warm before the first signal

        def fit(model: models.Model = model) -> object:
            return model.fit(x, y, batch_size=args.batch, epochs=10**6, verbose=0)

        def usable(model: models.Model = model) -> None:
            model.fit(x[:256], y[:256], verbose=0)
            if not all(np.isfinite(w).all() for w in model.get_weights()):
                raise RuntimeError("the weights are not finite after an interrupt")

        cases[f"fit, batch {args.batch}, {'op by op' if eager else 'compiled'}"] = (fit, usable)

    print(f"fastnn {fastnn.__version__}, {fastnn.get_num_threads()} threads, "
          f"{args.trials} trials, signal {args.delay} s in")
    print(f"{'case':<36} {'median ms':>10} {'worst ms':>10}")
    for name, (work, check) in cases.items():
        times = []
        for _ in range(args.trials):
            times.append(latency(work, args.delay))
            check()
        print(f"{name:<36} {statistics.median(times):>10.1f} {max(times):>10.1f}")


if __name__ == "__main__":
    run()
