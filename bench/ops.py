"""Microbenchmarks of fastnn's kernels against numpy: ``python bench/ops.py --help``.
The code lives in the package (``fastnn.bench.ops``) so an installed fastnn can run it too."""

from fastnn.bench.ops import run

if __name__ == "__main__":
    run()
