import numpy as np  # noqa: F401 - as the handout's

from ..nn.activation import ReLU
from ..nn.linear import Linear


class MLP0:
    """Linear(2, 3) → ReLU: self.layers, in order."""

    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU()]
        self.debug = debug

    def forward(self, A0):
        """A0 (N, 2) -> A1 (N, 3)"""
        Z0 = self.layers[0].forward(A0)
        return self.layers[1].forward(Z0)

    def backward(self, dLdA1):
        """dLdA1 (N, 3) -> dLdA0 (N, 2); each Linear sets its dLdW and dLdb"""
        dLdZ0 = self.layers[1].backward(dLdA1)
        return self.layers[0].backward(dLdZ0)


class MLP1:
    """Linear(2, 3) → ReLU → Linear(3, 2) → ReLU: self.layers, in order."""

    def __init__(self, debug=False):
        self.layers = [Linear(2, 3), ReLU(), Linear(3, 2), ReLU()]
        self.debug = debug

    def forward(self, A0):
        """A0 (N, 2) -> A2 (N, 2)"""
        A = A0
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def backward(self, dLdA2):
        """dLdA2 (N, 2) -> dLdA0 (N, 2); each Linear sets its dLdW and dLdb"""
        dLdA = dLdA2
        for layer in reversed(self.layers):
            dLdA = layer.backward(dLdA)
        return dLdA


class MLP4:
    """Linear(2, 4) → ReLU → Linear(4, 8) → ReLU → Linear(8, 8) → ReLU → Linear(8, 4) → ReLU →
    Linear(4, 2) → ReLU: self.layers, in order."""

    def __init__(self, debug=False):
        widths = [2, 4, 8, 8, 4, 2]
        self.layers = [layer for a, b in zip(widths, widths[1:]) for layer in (Linear(a, b), ReLU())]
        self.debug = debug

    def forward(self, A0):
        """A0 (N, 2) -> A5 (N, 2)"""
        A = A0
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def backward(self, dLdA5):
        """dLdA5 (N, 2) -> dLdA0 (N, 2); each Linear sets its dLdW and dLdb"""
        dLdA = dLdA5
        for layer in reversed(self.layers):
            dLdA = layer.backward(dLdA)
        return dLdA
