"""Classifying newswires into 46 topics (Deep Learning with Python, 3.5).

    python examples/reuters.py [--plot curves.png]

Keras' Reuters data (reuters.npz, from ~/.fastnn/datasets, ~/.keras/datasets, $FASTNN_DATA or
--data) with the 10,000 most frequent words, each newswire a multi-hot row of 10,000, each
label one-hot over the 46 topics. The book's model: Dense(64, relu) -> Dense(64, relu) ->
Dense(46, softmax), RMSprop, categorical cross-entropy, 20 epochs of batch 512, the first 1,000
training newswires held out for validation. --plot draws the loss and accuracy curves (needs
matplotlib).
"""

from __future__ import annotations

import argparse

from fastnn import layers, models
from fastnn.datasets import DatasetNotFoundError, reuters
from fastnn.utils import multi_hot, set_random_seed, to_categorical

NUM_WORDS = 10000
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
TOPICS = len(reuters.get_label_names())  # 46


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="reuters.npz", help="reuters.npz, or its path")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--validation", type=int, default=1000,
                        help="training newswires held out for validation (default 1000)")
    parser.add_argument("--plot", metavar="FILE", help="save the loss and accuracy curves")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_random_seed(args.seed)

    try:
        (train_data, train_labels), (test_data, test_labels) = reuters.load_data(
            args.data, num_words=NUM_WORDS)
    except DatasetNotFoundError:
        raise SystemExit(f"Reuters data not found: put Keras' reuters.npz ({URL}) in "
                         f"~/.fastnn/datasets/ (or ~/.keras/datasets/), or pass --data PATH"
                         ) from None

    x_train = multi_hot(train_data, NUM_WORDS)
    x_test = multi_hot(test_data, NUM_WORDS)
    one_hot_train_labels = to_categorical(train_labels, TOPICS)
    one_hot_test_labels = to_categorical(test_labels, TOPICS)

    model = models.Sequential()
    model.add(layers.Dense(64, activation="relu", input_shape=(NUM_WORDS,)))
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(TOPICS, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

    x_val, partial_x_train = x_train[:args.validation], x_train[args.validation:]
    y_val = one_hot_train_labels[:args.validation]
    partial_y_train = one_hot_train_labels[args.validation:]
    history = model.fit(partial_x_train, partial_y_train, epochs=args.epochs, batch_size=512,
                        validation_data=(x_val, y_val), verbose=2)
    if args.plot:
        try:
            history.plot(["loss", "accuracy"], path=args.plot)
            print(f"curves saved to {args.plot}")
        except ImportError:
            print("--plot needs matplotlib (pip install matplotlib): no curves drawn")
    test_loss, test_acc = model.evaluate(x_test, one_hot_test_labels, verbose=0)
    print(f"{len(partial_x_train)} training / {len(x_val)} validation / {len(x_test)} test "
          f"newswires; test loss {test_loss:.4f}, test accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
