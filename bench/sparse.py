"""Sparse inputs benchmark (CSR against dense, IMDB-shaped): ``python bench/sparse.py --help``.
The code lives in the package (``fastnn.bench.sparse``) so an installed fastnn can run it too."""

from fastnn.bench.sparse import run

if __name__ == "__main__":
    run()
