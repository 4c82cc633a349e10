"""Writes the Keras-made golden files that tests/models/test_keras_format.py loads with fastnn.

Not run by the tests: it needs Keras 3, which fastnn never depends on. Run it with a scratch
virtual environment outside the repository, from anywhere:

    python -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras jax jaxlib h5py numpy
    KERAS_BACKEND=jax /tmp/kvenv/bin/python tests/data/keras/make_files.py

It writes, beside itself, for each model NAME: NAME.keras (saved by Keras), NAME_x.npy (an
input) and NAME_y.npy (Keras' predictions on it). The files were made with Keras 3.15.1 (jax).
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
from keras import layers, regularizers

HERE = Path(__file__).resolve().parent


def sequential():
    """8-16-3, compiled and trained two epochs: the file holds Adam's slots too."""
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8)).astype("float32")
    model.fit(x, rng.integers(0, 3, 64), epochs=2, batch_size=32, verbose=0)
    return model


def functional():
    """Two branches, every merge, Reshape, Flatten, Activation, an L2 and an L1L2 regularizer;
    the branch made second comes first in Keras' layer order. Compiled, never trained."""
    i = keras.Input((6,))
    b = layers.Dense(8, activation="tanh", kernel_regularizer=regularizers.L1L2(0.001, 0.002),
                     name="made_first")(i)
    a = layers.Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01),
                     name="made_second")(i)
    s = layers.Add()([a, b])
    m = layers.Multiply()([a, b])
    d = layers.Subtract()([layers.Average()([s, m]), b])
    f = layers.Activation("sigmoid")(layers.Flatten()(layers.Reshape((2, 4))(d)))
    out = layers.Dense(2, use_bias=False)(layers.Concatenate()([a, b, f]))
    model = keras.Model(i, out)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    for name, make, width in (("sequential", sequential, 8), ("functional", functional, 6)):
        model = make()
        x = rng.standard_normal((16, width)).astype("float32")
        model.save(HERE / f"{name}.keras")
        np.save(HERE / f"{name}_x.npy", x)
        np.save(HERE / f"{name}_y.npy", model.predict(x, verbose=0))
        print(name, (HERE / f"{name}.keras").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
