"""A small binary classifier: sigmoid output, binary cross-entropy (Deep Learning with Python, 3.4).

    python examples/binary_classifier.py

The data are two interleaved half-moons in 2-D with noise, generated here, so the example needs no
download. The model is Dense(16, relu) -> Dense(16, relu) -> Dense(1, sigmoid) with RMSprop; the
sigmoid and the binary cross-entropy run fused on the logits (stable for any logit).
"""

from __future__ import annotations

import argparse

import numpy as np

from fastnn import layers, models
from fastnn.utils import set_random_seed


def moons(n: int, noise: float, rng: np.random.Generator):
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0,
                 np.c_[np.cos(t), np.sin(t)],
                 np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return (x + rng.normal(0, noise, (n, 2))).astype(np.float32), label.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = moons(args.samples, 0.15, rng)
    split = int(0.75 * len(x))

    model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(2,)),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:split], y[:split], epochs=args.epochs, batch_size=32, verbose=0,
                        validation_split=0.2)
    print(f"final validation accuracy {history.history['val_accuracy'][-1]:.3f}")
    loss, acc = model.evaluate(x[split:], y[split:], verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
