"""CS231n assignment 1's linear classifiers' training loop, on impl/layers.py's losses: the model
solution of the `linear_classifier_train` rubric item (references/model_spec.py).

    np.random.seed(0); svm = LinearSVM()
    loss_history = svm.train(X, y, learning_rate=1e-7, reg=2.5e4, num_iters=1500, batch_size=200)

train: W = 0.001·randn(D, C) when there is none; then per iteration a minibatch of
np.random.choice(N, batch_size) (with replacement, faster, as the handout hints), its loss and
gradient, and W ← W − learning_rate·dW.
"""

from __future__ import annotations

import numpy as np

from .layers import softmax_loss_vectorized, svm_loss_vectorized

__all__ = ["LinearClassifier", "LinearSVM", "Softmax"]


class LinearClassifier:
    """A linear classifier's W (D, C) trained by minibatch SGD; its loss is the subclass's."""

    def __init__(self):
        self.W = None

    def train(self, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200, verbose=False):
        """X: (N, D), y: (N,) labels in [0, C)  ->  loss_history: the loss of each iteration's batch."""
        num_train, dim = X.shape
        num_classes = np.max(y) + 1
        if self.W is None:
            self.W = 0.001 * np.random.randn(dim, num_classes)
        loss_history = []
        for it in range(num_iters):
            rows = np.random.choice(num_train, batch_size)
            loss, grad = self.loss(X[rows], y[rows], reg)
            loss_history.append(loss)
            self.W -= learning_rate * grad
            if verbose and it % 100 == 0:
                print("iteration %d / %d: loss %f" % (it, num_iters, loss))
        return loss_history

    def predict(self, X):
        """X: (N, D)  ->  y_pred (N,): each sample's highest score."""
        return np.argmax(X @ self.W, axis=1)

    def loss(self, X_batch, y_batch, reg):
        """X_batch: (B, D), y_batch: (B,), reg: float  ->  loss (float), dW (D, C)."""
        raise NotImplementedError


class LinearSVM(LinearClassifier):
    """A subclass that uses the Multiclass SVM loss function."""

    def loss(self, X_batch, y_batch, reg):
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A subclass that uses the Softmax + Cross-entropy loss function."""

    def loss(self, X_batch, y_batch, reg):
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg)
