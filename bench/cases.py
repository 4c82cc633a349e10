"""The book's four cases against numpy by hand and PyTorch: ``python bench/cases.py --help``.
The code lives in the package (``fastnn.bench.cases``) so an installed fastnn can run it too."""

from fastnn.bench.cases import run

if __name__ == "__main__":
    run()
