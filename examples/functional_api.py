"""The functional API (Deep Learning with Python, 7.1): two inputs, a shared layer, two outputs.

    python examples/functional_api.py [--epochs N]

Each digit of the MNIST sample shipped with fastnn is cut into its top and bottom halves, two
inputs of 14 x 28 pixels. One Dense layer reads both halves (a shared layer: the same weights,
their gradients added up), the two codes are concatenated, and two heads answer two questions at
once: which digit (softmax, sparse categorical cross-entropy) and whether it is even (sigmoid,
binary cross-entropy). Everything in this graph has a C++ kernel, so fit runs each batch as one
compiled call; summary() says so.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from fastnn import layers, models
from fastnn.datasets import mnist
from fastnn.utils import set_random_seed


def halves(images: np.ndarray) -> list:
    pixels = images.astype("float32") / 255
    return [pixels[:, :14].reshape(len(images), -1), pixels[:, 14:].reshape(len(images), -1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_random_seed(args.seed)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_sample()

    top = layers.Input(shape=(14 * 28,), name="top")
    bottom = layers.Input(shape=(14 * 28,), name="bottom")
    half_encoder = layers.Dense(128, activation="relu", name="half_encoder")  # shared
    code = layers.Concatenate()([half_encoder(top), half_encoder(bottom)])
    code = layers.Dropout(0.2)(code)
    digit = layers.Dense(10, activation="softmax", name="digit")(code)
    even = layers.Dense(1, activation="sigmoid", name="even")(code)
    model = models.Model(inputs=[top, bottom], outputs=[digit, even])
    model.compile(optimizer="rmsprop",
                  loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "even": 0.5},
                  metrics={"digit": ["accuracy"], "even": ["accuracy"]})
    model.summary()

    targets = [train_labels, (train_labels % 2 == 0).astype("float32")]
    history = model.fit(halves(train_images), targets, epochs=args.epochs, batch_size=128,
                        validation_split=0.1, verbose=2)
    print("logged:", ", ".join(history.history))
    test_targets = [test_labels, (test_labels % 2 == 0).astype("float32")]
    results = model.evaluate(halves(test_images), test_targets, verbose=0, return_dict=True)
    print(f"test digit accuracy {results['digit_accuracy']:.4f}, "
          f"test even accuracy {results['even_accuracy']:.4f}")

    with tempfile.TemporaryDirectory() as folder:  # the graph and its weights, in one file
        path = Path(folder) / "two_halves.fnn"
        model.save(path)
        again = models.load_model(path)
        same = all(np.array_equal(a, b) for a, b in zip(model.predict(halves(test_images[:100])),
                                                         again.predict(halves(test_images[:100]))))
        print(f"saved and loaded: the same predictions: {same}")


if __name__ == "__main__":
    main()
