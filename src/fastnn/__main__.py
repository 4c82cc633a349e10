"""The command line: ``python -m fastnn train`` (or ``fastnn train``) trains the book's MLP."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .datasets._files import Arrays


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    import fastnn

    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn: a small, fast neural-network engine")
    parser.add_argument("--version", action="version", version=f"fastnn {fastnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an MLP classifier on MNIST-format data",
                           description="Trains Dense(hidden, relu) ... Dense(10, softmax) like the "
                                       "book's first example and prints the test loss and accuracy.")
    train.add_argument("--dataset", default="sample",
                       help="sample (the MNIST sample shipped with fastnn, offline; default), mnist, "
                            "fashion_mnist, or a PATH to a folder of IDX files / an npz file")
    train.add_argument("--hidden", default="512",
                       help="hidden layer widths, comma-separated (default 512)")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--optimizer", default="rmsprop", choices=["rmsprop", "adam", "sgd", "adagrad"])
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", default=None, metavar="FILE", help="save the trained model here")
    train.add_argument("--threads", type=int, default=None, help="kernel threads (default: all CPUs)")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    return parser.parse_args(argv)


def _load(dataset: str) -> Tuple[str, Arrays]:
    from .datasets import fashion_mnist, mnist

    if dataset == "sample":
        return "MNIST sample (5,000 train / 10,000 official test)", mnist.load_sample()
    if dataset == "mnist":
        return "MNIST", mnist.load_data()
    if dataset in ("fashion_mnist", "fashion-mnist"):
        return "Fashion-MNIST", fashion_mnist.load_data()
    return str(dataset), mnist.load_data(Path(dataset))


def train(args: argparse.Namespace) -> int:
    import fastnn
    from fastnn import layers, models, optimizers
    from fastnn.utils import set_random_seed, to_categorical

    try:
        hidden: List[int] = [int(h) for h in str(args.hidden).split(",") if h.strip()]
    except ValueError:
        print(f"fastnn train: --hidden takes comma-separated integers; received {args.hidden!r}",
              file=sys.stderr)
        return 2
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    set_random_seed(args.seed)
    name, ((x_train, y_train), (x_test, y_test)) = _load(args.dataset)
    features = int(x_train[0].size)
    x_train = x_train.reshape(len(x_train), features).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), features).astype("float32") / 255
    classes = int(max(y_train.max(), y_test.max())) + 1
    y_train, y_test = to_categorical(y_train, classes), to_categorical(y_test, classes)

    model = models.Sequential(name="mlp")
    for i, units in enumerate(hidden):
        model.add(layers.Dense(units, activation="relu", input_shape=(features,) if i == 0 else None))
    model.add(layers.Dense(classes, activation="softmax",
                           input_shape=None if hidden else (features,)))
    optimizer = optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer = type(optimizer)(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    print(f"{name}: {len(x_train):,} training and {len(x_test):,} test images; model "
          f"{'-'.join(str(d) for d in [features, *hidden, classes])}, {args.optimizer}, "
          f"batch {args.batch_size}, {fastnn.get_num_threads()} thread(s)")
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    scores = model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)
    assert isinstance(scores, dict)
    print(f"trained {args.epochs} epoch(s) in {seconds:.2f} s; test loss {scores['loss']:.4f}, "
          f"test accuracy {scores['accuracy']:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    if args.command == "train":
        return train(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
