"""How long Ctrl-C takes to stop a long op or a fit: ``python bench/interrupt.py --help``.
The code lives in the package (``fastnn.bench.interrupt``) so an installed fastnn can run it too."""

from fastnn.bench.interrupt import run

if __name__ == "__main__":
    run()
