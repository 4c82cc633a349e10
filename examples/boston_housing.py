"""Boston housing price regression with K-fold validation (Deep Learning with Python, 3.6).

    python examples/boston_housing.py ../shared/data/boston_housing.csv

The CSV has 506 rows: 13 features, then the median price in k$. As Keras' loader, the rows are
shuffled with seed 113 and split 404 / 102. Features are normalised with the training set's mean
and standard deviation; the model is Dense(64, relu) -> Dense(64, relu) -> Dense(1), RMSprop, mse
loss, mae metric.
"""

from __future__ import annotations

import argparse

import numpy as np

from fastnn import layers, models
from fastnn.utils import set_random_seed


def load(path: str):
    data = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 14:
        raise SystemExit(f"{path}: expected rows of 13 features and a price; got shape {data.shape}")
    order = np.random.default_rng(113).permutation(len(data))
    data = data[order]
    split = int(len(data) * 0.8)  # 404 of 506, as keras.datasets.boston_housing
    x, y = data[:, :13].astype(np.float32), data[:, 13].astype(np.float32)
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_model(features: int) -> models.Sequential:
    model = models.Sequential([layers.Dense(64, activation="relu", input_shape=(features,)),
                               layers.Dense(64, activation="relu"),
                               layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", help="path to boston_housing.csv")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load(args.csv)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std  # the test set is normalised with the training statistics

    # K-fold validation: each fold is held out once, the model trained on the rest.
    fold = len(x_train) // args.folds
    scores = []
    for i in range(args.folds):
        val = slice(i * fold, (i + 1) * fold)
        rest = np.r_[0:i * fold, (i + 1) * fold:len(x_train)]
        model = build_model(x_train.shape[1])
        model.fit(x_train[rest], y_train[rest], epochs=args.epochs, batch_size=args.batch_size, verbose=0)
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
