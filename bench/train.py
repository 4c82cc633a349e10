"""Training benchmark, fastnn against numpy by hand and PyTorch: ``python bench/train.py --help``.
The code lives in the package (``fastnn.bench.train``) so an installed fastnn can run it too."""

from fastnn.bench.train import run

if __name__ == "__main__":
    run()
