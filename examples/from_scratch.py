"""The book's model written from raw ops (Deep Learning with Python, 2.5, "Reimplementing our
first example from scratch"), with TensorFlow's names swapped for fastnn's:

    tf.Variable -> fastnn.Variable              tf.GradientTape -> fastnn.GradientTape
    tf.matmul -> fastnn.ops.matmul              tf.nn.relu / softmax -> fastnn.ops.relu / softmax
    tf.reduce_mean -> fastnn.ops.mean
    tf.keras.losses.sparse_categorical_crossentropy -> fastnn.losses.sparse_categorical_crossentropy
    tf.random.uniform / tf.zeros -> numpy

Trains on the MNIST sample shipped with fastnn and scores on the official 10,000 test digits:

    python examples/from_scratch.py [--epochs 10] [--lr 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import fastnn
from fastnn.datasets import mnist

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
args = parser.parse_args()
rng = np.random.default_rng(args.seed)


class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation

        w_shape = (input_size, output_size)
        w_initial_value = rng.uniform(0, 1e-1, w_shape)
        self.W = fastnn.Variable(w_initial_value)

        b_shape = (output_size,)
        b_initial_value = np.zeros(b_shape)
        self.b = fastnn.Variable(b_initial_value)

    def __call__(self, inputs):
        return self.activation(fastnn.ops.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights


model = NaiveSequential([
    NaiveDense(input_size=28 * 28, output_size=512, activation=fastnn.ops.relu),
    NaiveDense(input_size=512, output_size=10, activation=fastnn.ops.softmax),
])
assert len(model.weights) == 4


class BatchGenerator:
    def __init__(self, images, labels, batch_size=128):
        assert len(images) == len(labels)
        self.index = 0
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.num_batches = math.ceil(len(images) / batch_size)

    def next(self):
        images = self.images[self.index : self.index + self.batch_size]
        labels = self.labels[self.index : self.index + self.batch_size]
        self.index += self.batch_size
        return images, labels


def one_training_step(model, images_batch, labels_batch):
    with fastnn.GradientTape() as tape:
        predictions = model(images_batch)
        per_sample_losses = fastnn.losses.sparse_categorical_crossentropy(
            labels_batch, predictions)
        average_loss = fastnn.ops.mean(per_sample_losses)
    gradients = tape.gradient(average_loss, model.weights)
    update_weights(gradients, model.weights)
    return average_loss


learning_rate = args.lr


def update_weights(gradients, weights):
    for g, w in zip(gradients, weights):
        w.assign_sub(g * learning_rate)


def fit(model, images, labels, epochs, batch_size=128):
    for epoch_counter in range(epochs):
        print(f"Epoch {epoch_counter}")
        batch_generator = BatchGenerator(images, labels)
        for batch_counter in range(batch_generator.num_batches):
            images_batch, labels_batch = batch_generator.next()
            loss = one_training_step(model, images_batch, labels_batch)
            if batch_counter % 100 == 0:
                print(f"loss at batch {batch_counter}: {loss:.2f}")


(train_images, train_labels), (test_images, test_labels) = mnist.load_sample()
train_images = train_images.reshape((len(train_images), 28 * 28))
train_images = train_images.astype("float32") / 255
test_images = test_images.reshape((len(test_images), 28 * 28))
test_images = test_images.astype("float32") / 255

fit(model, train_images, train_labels, epochs=args.epochs, batch_size=128)

predictions = model(test_images)
predictions = predictions.numpy()
predicted_labels = np.argmax(predictions, axis=1)
matches = predicted_labels == test_labels
print(f"accuracy: {matches.mean():.4f}")
