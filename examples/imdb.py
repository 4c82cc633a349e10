"""Classifying movie reviews as positive or negative (Deep Learning with Python, 3.4).

    python examples/imdb.py [--plot curves.png]

Keras' IMDB data (imdb.npz, from ~/.fastnn/datasets, ~/.keras/datasets, $FASTNN_DATA or --data)
with the 10,000 most frequent words; each review becomes a multi-hot row of 10,000: a scipy
sparse matrix when scipy is installed (the two sets take about 45 MB, and the first layer works
on the words a review has), else dense float32 as in the book (2 GB; --dense asks for it). The
book's model: Dense(16, relu) -> Dense(16, relu) ->
Dense(1, sigmoid), RMSprop, binary cross-entropy, 20 epochs of batch 512, the first 10,000
training reviews held out for validation. --plot draws the loss and accuracy curves (needs
matplotlib).
"""

from __future__ import annotations

import argparse

import numpy as np

from fastnn import layers, models
from fastnn.datasets import DatasetNotFoundError, imdb
from fastnn.utils import multi_hot, set_random_seed

NUM_WORDS = 10000
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="imdb.npz", help="imdb.npz, or its path")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--validation", type=int, default=10000,
                        help="training reviews held out for validation (default 10000)")
    parser.add_argument("--plot", metavar="FILE", help="save the loss and accuracy curves")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense", action="store_true",
                        help="dense multi-hot rows, as the book's (else sparse with scipy)")
    args = parser.parse_args()
    set_random_seed(args.seed)

    try:
        (train_data, train_labels), (test_data, test_labels) = imdb.load_data(
            args.data, num_words=NUM_WORDS)
    except DatasetNotFoundError:
        raise SystemExit(f"IMDB data not found: put Keras' imdb.npz ({URL}) in "
                         f"~/.fastnn/datasets/ (or ~/.keras/datasets/), or pass --data PATH"
                         ) from None

    sparse = not args.dense
    if sparse:
        try:
            import scipy.sparse  # noqa: F401
        except ImportError:
            print('scipy is not installed (pip install "fastnn[scipy]"): dense rows, 2 GB')
            sparse = False
    x_train = multi_hot(train_data, NUM_WORDS, sparse=sparse)
    x_test = multi_hot(test_data, NUM_WORDS, sparse=sparse)
    y_train = np.asarray(train_labels).astype("float32")
    y_test = np.asarray(test_labels).astype("float32")

    model = models.Sequential()
    model.add(layers.Dense(16, activation="relu", input_shape=(NUM_WORDS,)))
    model.add(layers.Dense(16, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])

    x_val, partial_x_train = x_train[:args.validation], x_train[args.validation:]
    y_val, partial_y_train = y_train[:args.validation], y_train[args.validation:]
    history = model.fit(partial_x_train, partial_y_train, epochs=args.epochs, batch_size=512,
                        validation_data=(x_val, y_val), verbose=2)
    if args.plot:
        try:
            history.plot(["loss", "accuracy"], path=args.plot)
            print(f"curves saved to {args.plot}")
        except ImportError:
            print("--plot needs matplotlib (pip install matplotlib): no curves drawn")
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"{partial_x_train.shape[0]} training / {x_val.shape[0]} validation / "
          f"{x_test.shape[0]} test reviews; test loss {test_loss:.4f}, test accuracy "
          f"{test_acc:.4f}")


if __name__ == "__main__":
    main()
