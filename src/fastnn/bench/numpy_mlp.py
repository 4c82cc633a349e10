"""The numpy-by-hand reference for the benchmarks: the same MLP, the same math and the same
optimizer as ``fastnn.models.Sequential`` with Dense(relu) hidden layers, written the way one would
with numpy alone. The output and loss are the book's three: a softmax with sparse categorical
cross-entropy (MNIST, Reuters), a sigmoid with binary cross-entropy (IMDB) and a linear output
with mean squared error (Boston housing); the optimizer is Keras' RMSprop.
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

LOSSES = ("sparse_categorical_crossentropy", "binary_crossentropy", "mse")


class NumpyMLP:
    """Dense(relu) hidden layers and an output layer with ``loss``'s activation (softmax, sigmoid
    or none), trained with RMSprop (``v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps)``) on
    the batch mean of the loss."""

    def __init__(self, sizes: Sequence[int], seed: int = 0, learning_rate: float = 1e-3,
                 rho: float = 0.9, epsilon: float = 1e-7,
                 loss: str = "sparse_categorical_crossentropy"):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; received {loss!r}")
        rng = np.random.default_rng(seed)
        self.loss = loss
        self.weights: List[np.ndarray] = []
        self.biases: List[np.ndarray] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as Keras' default
            self.weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            self.biases.append(np.zeros(fan_out, np.float32))
        self.params = [p for pair in zip(self.weights, self.biases) for p in pair]
        self.velocity = [np.zeros_like(p) for p in self.params]
        self.lr, self.rho = np.float32(learning_rate), np.float32(rho)
        self.eps = np.float32(epsilon)
        self.rng = np.random.default_rng(seed + 1)

    def forward(self, x: np.ndarray) -> List[np.ndarray]:
        """Every layer's output; the last are the logits (before the output's activation)."""
        hs = [x]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = hs[-1] @ w + b
            hs.append(z if i == len(self.weights) - 1 else np.maximum(z, 0))
        return hs

    def _loss_and_grad(self, z: np.ndarray, y: np.ndarray) -> "tuple[float, np.ndarray]":
        """The batch-mean loss of logits z and its gradient with respect to z."""
        n = len(z)
        if self.loss == "sparse_categorical_crossentropy":
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
            g = e / s
            g[np.arange(n), y] -= 1
            return loss, g / n
        t = y.reshape(z.shape).astype(np.float32)
        if self.loss == "binary_crossentropy":
            # log(1 + e^-|z|) + max(z, 0) - z t: the stable form of -t log p - (1 - t) log(1 - p)
            loss = float(np.mean(np.logaddexp(0, -np.abs(z)) + np.maximum(z, 0) - z * t))
            return loss, (1 / (1 + np.exp(-z)) - t) / n
        d = z - t
        return float(np.mean(d * d)), 2 * d / d.size

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        hs = self.forward(x)
        loss, g = self._loss_and_grad(hs[-1], y)
        grads = []
        for i in range(len(self.weights) - 1, -1, -1):
            grads += [g.sum(axis=0), hs[i].T @ g]
            if i:
                g = (g @ self.weights[i].T) * (hs[i] > 0)
        grads.reverse()  # -> [dW0, db0, dW1, db1, ...]
        for p, gp, v in zip(self.params, grads, self.velocity):
            v *= self.rho
            v += (1 - self.rho) * gp * gp
            p -= self.lr * gp / np.sqrt(v + self.eps)
        return loss

    def epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
        """One shuffled pass over (x, y); the mean batch loss."""
        order = self.rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            total += self.train_step(x[rows], y[rows]) * len(rows)
        return total / len(x)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        z = self.forward(x)[-1]
        if self.loss == "sparse_categorical_crossentropy":
            return float(np.mean(z.argmax(axis=1) == y))
        return float(np.mean((z[:, 0] > 0) == (y > 0.5)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits, the way the benchmark's inference comparison writes it."""
        return self.forward(x)[-1]
