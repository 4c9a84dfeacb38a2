import numpy as np

from mytorch.nn.activation import Softmax


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
