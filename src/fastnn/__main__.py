"""The command line: ``python -m fastnn train`` (or ``fastnn train``) trains the book's MLP."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, NoReturn, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .datasets._files import Arrays, DatasetNotFoundError

# The datasets --dataset knows by name (anything else is a PATH), as the output calls them.
_NAMES = {"sample": "MNIST sample (shipped with fastnn)", "mnist": "MNIST",
          "fashion_mnist": "Fashion-MNIST", "fashion-mnist": "Fashion-MNIST"}
_OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad")


class _Parser(argparse.ArgumentParser):
    """argparse with every error on one line and no usage block: on a short terminal the usage
    would push the line that says what is wrong out of sight, and ``--help`` is named instead."""

    def error(self, message: str) -> NoReturn:
        """Prints ``<prog>: error: <message>`` on one line and exits with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer(low: int, high: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: an integer from low (up to high)."""
    wanted = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {wanted}; received {text!r}")
        return value
    return parse


def _learning_rate(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, e.g. 0.001; received {text!r}")
    return value


def _widths(text: str) -> List[int]:
    """An argparse type: comma-separated layer widths, at least one, each >= 1."""
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, e.g. 512 or "
                                         f"256,128; received {text!r}")
    return widths


def _parsers() -> Tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command's parser and its ``train`` sub-parser (which reports the errors found after
    parsing, such as a --dataset PATH that does not exist)."""
    import fastnn
    from fastnn import _C

    parser = _Parser(prog="fastnn", description="fastnn: a small, fast neural-network engine")
    parser.add_argument("--version", action="version", version=f"fastnn {fastnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an MLP classifier on MNIST-format data",
                           description="Trains Dense(hidden, relu) ... Dense(10, softmax) like "
                                       "the book's first example and prints the test loss and "
                                       "accuracy.")
    train.add_argument("--dataset", default="sample",
                       help="sample (the MNIST sample shipped with fastnn, offline), mnist, "
                            "fashion_mnist, or a PATH to a folder of IDX files or an npz file "
                            "(default: %(default)s)")
    train.add_argument("--hidden", type=_widths, default="512", metavar="WIDTHS",
                       help="hidden layer widths, comma-separated, each >= 1 (default: 512)")
    train.add_argument("--epochs", type=_integer(1), default=5,
                       help="epochs to train, >= 1 (default: %(default)s)")
    train.add_argument("--batch-size", type=_integer(1), default=128,
                       help="samples per gradient step, >= 1 (default: %(default)s)")
    # Any case, as compile(optimizer='RMSprop') takes it.
    train.add_argument("--optimizer", type=str.lower, default="rmsprop", choices=_OPTIMIZERS,
                       help="the optimizer, any case (default: %(default)s)")
    train.add_argument("--lr", type=_learning_rate, default=None,
                       help="learning rate, > 0 (default: the optimizer's own: 0.001, or 0.01 "
                            "for sgd)")
    train.add_argument("--seed", type=_integer(0), default=0,
                       help="random seed, >= 0 (default: %(default)s)")
    train.add_argument("--save", default=None, metavar="FILE",
                       help="save the trained model to FILE: model.keras (Keras 3's format) or "
                            "model.fnn (fastnn's) (default: no file)")
    train.add_argument("--threads", type=_integer(1, fastnn.MAX_THREADS), default=None,
                       help=f"kernel threads, from 1 to {fastnn.MAX_THREADS} (default: one per "
                            f"CPU this process may use, {_C.available_cpus()} here)")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                       help="0 silent, 1 a progress bar per epoch, 2 one line per epoch "
                            "(default: %(default)s)")
    return parser, train


def _check_paths(args: argparse.Namespace, train: argparse.ArgumentParser) -> None:
    """Refuses, before any training, a --dataset PATH that does not exist and a --save FILE
    that could not be written at the end."""
    from ._model_path import check_save_path

    if args.dataset not in _NAMES and not Path(args.dataset).expanduser().exists():
        train.error(f"argument --dataset: no file or folder {args.dataset} (expected sample, "
                    f"mnist, fashion_mnist, or --dataset PATH naming a folder of IDX files or "
                    f"an npz file)")
    if args.save is None:
        return
    save = Path(args.save)
    try:
        check_save_path(save)
    except (ValueError, ImportError) as e:
        train.error(f"argument --save: {e}")
    folder = save.parent
    if save.is_dir():
        train.error(f"argument --save: {save} is a folder; name a file in it, e.g. "
                    f"{save / 'model.fnn'}")
    if not folder.is_dir():
        train.error(f"argument --save: no folder {folder} to save {save.name} in")
    if not os.access(folder, os.W_OK | os.X_OK):
        train.error(f"argument --save: the folder {folder} is not writable")


def _fail(message: str, status: int = 1) -> int:
    """Reports a failure on one line of stderr (no traceback); returns the exit status."""
    print(f"fastnn train: error: {' '.join(message.split())}", file=sys.stderr)
    return status


def _load(dataset: str) -> Arrays:
    from .datasets import fashion_mnist, mnist

    if dataset == "sample":
        return mnist.load_sample()
    if dataset == "mnist":
        return mnist.load_data()
    if dataset in ("fashion_mnist", "fashion-mnist"):
        return fashion_mnist.load_data()
    return mnist.load_data(Path(dataset))


def _not_found(dataset: str, error: DatasetNotFoundError) -> str:
    """The command line's wording of a dataset that is nowhere: it names --dataset PATH where
    the library's message names load_data(path=...)."""
    if not error.looked:
        return f"--dataset: {error}"
    return (f"{_NAMES[dataset]} is not on this machine and could not be downloaded "
            f"({error.reason}); looked in {', '.join(str(p) for p in error.looked)}; put its "
            f"four IDX files (or Keras' npz) in one of those folders, or pass --dataset PATH")


def train(args: argparse.Namespace) -> int:
    """Runs ``fastnn train`` with parsed (and checked) arguments.

    Args:
        args: the namespace from the train sub-parser.

    Returns:
        The exit status: 0, or 1 after a one-line error (a dataset that cannot be loaded, a
        model that cannot be saved).
    """
    import fastnn
    from fastnn import _C, layers, models, optimizers
    from fastnn.datasets import DatasetNotFoundError
    from fastnn.utils import set_random_seed, to_categorical

    if args.threads is not None:
        cpus = _C.available_cpus()  # sched_getaffinity where there is one, as the pool's default
        if args.threads > cpus:
            print(f"fastnn train: warning: --threads {args.threads} is more than the {cpus} "
                  f"CPU(s) this process may use; the extra threads wait for a CPU and slow "
                  f"training down", file=sys.stderr)
        fastnn.set_num_threads(args.threads)
    set_random_seed(args.seed)
    try:
        (x_train, y_train), (x_test, y_test) = _load(args.dataset)
    except DatasetNotFoundError as e:
        return _fail(_not_found(args.dataset, e))
    except (ValueError, OSError) as e:
        return _fail(f"--dataset: {e}")  # the message names the file
    features = int(x_train[0].size)
    x_train = x_train.reshape(len(x_train), features).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), features).astype("float32") / 255
    classes = int(max(y_train.max(), y_test.max())) + 1
    y_train, y_test = to_categorical(y_train, classes), to_categorical(y_test, classes)

    model = models.Sequential(name="mlp")
    for i, units in enumerate(args.hidden):
        model.add(layers.Dense(units, activation="relu",
                               input_shape=(features,) if i == 0 else None))
    model.add(layers.Dense(classes, activation="softmax"))
    optimizer = optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer = type(optimizer)(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    # Two short lines rather than one that an 80-column terminal breaks inside a number.
    print(f"{_NAMES.get(args.dataset, args.dataset)}: {len(x_train):,} training and "
          f"{len(x_test):,} test images")
    print(f"model {'-'.join(str(d) for d in [features, *args.hidden, classes])}, "
          f"{args.optimizer}, batch {args.batch_size}, {fastnn.get_num_threads()} thread(s)")
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
              verbose=args.verbose)
    seconds = time.perf_counter() - start
    scores = model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)
    assert isinstance(scores, dict)
    print(f"trained {args.epochs} epoch(s) in {seconds:.2f} s; test loss {scores['loss']:.4f}, "
          f"test accuracy {scores['accuracy']:.4f}")
    if args.save:
        try:
            model.save(args.save)
        except OSError as e:
            return _fail(f"--save {args.save}: {e}")
        print(f"saved the model to {args.save}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``fastnn`` command.

    Args:
        argv: the arguments after the program name. Defaults to None, ``sys.argv[1:]``.

    Returns:
        The exit status. A bad argument exits at once (SystemExit, status 2) with one line on
        stderr naming it and the values it takes.
    """
    parser, train_parser = _parsers()
    args = parser.parse_args(argv)
    if args.command != "train":
        return 2
    _check_paths(args, train_parser)
    try:
        return train(args)
    except KeyboardInterrupt:
        print("\nfastnn train: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a process Ctrl-C ended


if __name__ == "__main__":
    sys.exit(main())
