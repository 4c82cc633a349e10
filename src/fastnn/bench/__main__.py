"""``python -m fastnn.bench``: the kernel, training, book-case, sparse-input and Ctrl-C benchmarks
with short defaults. ``--threads N`` goes to each."""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    threads = ["--threads", argv[argv.index("--threads") + 1]] if "--threads" in argv else []
    runs = [["fastnn.bench.ops", "--quick", *threads],
            ["fastnn.bench.train", "--epochs", "1", "--train-size", "20000", *threads],
            ["fastnn.bench.cases", "--quick", *threads],
            ["fastnn.bench.sparse", "--quick", *threads],
            ["fastnn.bench.interrupt", "--quick", *threads]]
    for module, *args in runs:
        print(f"$ python -m {module} {' '.join(args)}", flush=True)
        # Each benchmark sets numpy's BLAS threads before numpy loads: its own process.
        code = subprocess.call([sys.executable, "-m", module, *args])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
