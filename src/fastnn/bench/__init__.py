"""fastnn's benchmarks, runnable from an installed package:

    python -m fastnn.bench            # both, with short defaults (about a minute)
    python -m fastnn.bench.ops        # kernels against numpy         (--help for options)
    python -m fastnn.bench.train      # training against numpy and PyTorch

The repository's ``bench/ops.py`` and ``bench/train.py`` run the same code.
"""
