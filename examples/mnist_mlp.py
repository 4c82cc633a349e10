"""The book's first network (Deep Learning with Python, 2.1), with fastnn's imports.

    python examples/mnist_mlp.py

Uses full MNIST when it is on this machine (see fastnn.datasets.mnist.load_data), else
Fashion-MNIST if that is, else the MNIST sample shipped with fastnn.
"""

from __future__ import annotations

from fastnn import layers, models
from fastnn.datasets import DatasetNotFoundError, fashion_mnist, mnist
from fastnn.utils import to_categorical


def load():
    for name, loader in (("MNIST", mnist.load_data), ("Fashion-MNIST", fashion_mnist.load_data)):
        try:
            return name, loader()
        except DatasetNotFoundError:
            pass
    return "the MNIST sample", mnist.load_sample()


name, ((train_images, train_labels), (test_images, test_labels)) = load()
print(f"training on {name}")
train_images = train_images.reshape((len(train_images), 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((len(test_images), 28 * 28)).astype("float32") / 255
train_labels, test_labels = to_categorical(train_labels), to_categorical(test_labels)

network = models.Sequential()
network.add(layers.Dense(512, activation="relu", input_shape=(28 * 28,)))
network.add(layers.Dense(10, activation="softmax"))
network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
network.fit(train_images, train_labels, epochs=5, batch_size=128)
test_loss, test_acc = network.evaluate(test_images, test_labels)
print(f"test_acc: {test_acc:.4f}")
