"""Predicting house prices with K-fold validation (Deep Learning with Python, 3.6).

    python examples/boston_housing.py [--data boston_housing.npz | --csv boston_housing.csv]

Keras' Boston housing data (boston_housing.load_data(): boston_housing.npz from
~/.fastnn/datasets, ~/.keras/datasets, $FASTNN_DATA or --data), split as Keras splits it: 404
training and 102 test houses. --csv reads the same 506 rows from a CSV instead (13 features,
then the median price in k$) and splits them the same way. Features are normalised with the
training set's mean and standard deviation. The book's model: Dense(64, relu) -> Dense(64, relu)
-> Dense(1), RMSprop, mse loss, mae metric; 4-fold validation on the training set, then a model
trained on all of it (80 epochs, batch 16) and scored on the test set.
"""

from __future__ import annotations

import argparse

import numpy as np

from fastnn import layers, models
from fastnn.datasets import DatasetNotFoundError, boston_housing
from fastnn.utils import set_random_seed


def load_csv(path: str, test_split: float = 0.2, seed: int = 113):
    data = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 14:
        raise SystemExit(f"{path}: expected rows of 13 features and a price; got shape "
                         f"{data.shape}")
    # boston_housing.load_data's split: RandomState(seed) shuffles, the first 80% train.
    indices = np.arange(len(data))
    np.random.RandomState(seed).shuffle(indices)
    x, y = data[indices, :13], data[indices, 13]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_model(features: int) -> models.Sequential:
    model = models.Sequential([layers.Dense(64, activation="relu", input_shape=(features,)),
                               layers.Dense(64, activation="relu"),
                               layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", default="boston_housing.npz",
                        help="boston_housing.npz, or its path")
    source.add_argument("--csv", help="a CSV of the 506 rows instead")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_random_seed(args.seed)

    if args.csv:
        (x_train, y_train), (x_test, y_test) = load_csv(args.csv)
    else:
        try:
            (x_train, y_train), (x_test, y_test) = boston_housing.load_data(args.data)
        except DatasetNotFoundError:
            raise SystemExit("Boston housing data not found: put Keras' boston_housing.npz in "
                             "~/.fastnn/datasets/ (or ~/.keras/datasets/), or pass --data PATH "
                             "or --csv PATH") from None
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    # the test set is normalised with the training statistics
    x_train = ((x_train - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)

    # K-fold validation: each fold is held out once, a new model trained on the rest.
    fold = len(x_train) // args.folds
    scores = []
    for i in range(args.folds):
        val = slice(i * fold, (i + 1) * fold)
        rest = np.r_[0:i * fold, (i + 1) * fold:len(x_train)]
        model = build_model(x_train.shape[1])
        model.fit(x_train[rest], y_train[rest], epochs=args.epochs, batch_size=args.batch_size,
                  verbose=0)
        _, mae = model.evaluate(x_train[val], y_train[val], verbose=0)
        scores.append(mae)
        print(f"fold {i + 1}/{args.folds}: validation MAE {mae:.2f} k$")
    print(f"mean validation MAE over {args.folds} folds: {np.mean(scores):.2f} k$")

    model = build_model(x_train.shape[1])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    test_mse, test_mae = model.evaluate(x_test, y_test, verbose=0)
    print(f"{len(x_train)} training / {len(x_test)} test houses; test MSE {test_mse:.2f}, "
          f"test MAE {test_mae:.2f} k$")


if __name__ == "__main__":
    main()
