import numpy as np

from .activation import Softmax


class MSELoss:
    def forward(self, A, Y):
        """A, Y (N, C): the mean over the N·C entries of (A − Y)²"""
        self.A, self.Y = A, Y
        self.N, self.C = A.shape
        se = (A - Y) * (A - Y)
        return np.ones(self.N) @ se @ np.ones(self.C) / (self.N * self.C)

    def backward(self):
        return 2 * (self.A - self.Y) / (self.N * self.C)


class CrossEntropyLoss:
    def forward(self, A, Y):
        """A (N, C) logits, Y (N, C) one-hot: the mean over N of −Σ_c Y·log softmax(A)"""
        self.A = A
        self.Y = Y
        self.N, C = A.shape
        self.softmax = Softmax().forward(A)
        crossentropy = (-Y * np.log(self.softmax)) @ np.ones(C)
        return np.ones(self.N) @ crossentropy / self.N

    def backward(self):
        return (self.softmax - self.Y) / self.N
