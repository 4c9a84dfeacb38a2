import math

import numpy as np


class ReLU:
    def forward(self, Z):
        self.A = np.maximum(0, Z)
        return self.A

    def backward(self, dLdA):
        return dLdA * np.where(self.A > 0, 1.0, 0.0)


class Sigmoid:
    def forward(self, Z):
        self.A = 1 / (1 + np.exp(-Z))
        return self.A

    def backward(self, dLdA):
        return dLdA * self.A * (1 - self.A)


class Tanh:
    def forward(self, Z):
        self.A = np.tanh(Z)
        return self.A

    def backward(self, dLdA, state=None):
        A = self.A if state is None else state
        return dLdA * (1 - A**2)


class Softmax:
    def forward(self, Z):
        E = np.exp(Z - np.max(Z, axis=1, keepdims=True))
        self.A = E / np.sum(E, axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        """Each row's Jacobian diag(a) − a·aᵀ applied to its dLdA."""
        return self.A * (dLdA - np.sum(dLdA * self.A, axis=1, keepdims=True))


class GELU:
    """A = Z·Φ(Z), Φ the standard normal's CDF (the handout computes erf with scipy.special.erf)."""

    def forward(self, Z):
        self.Z = Z
        self.A = 0.5 * Z * (1 + np.vectorize(math.erf)(Z / np.sqrt(2)))
        return self.A

    def backward(self, dLdA):
        Z = self.Z
        dAdZ = 0.5 * (1 + np.vectorize(math.erf)(Z / np.sqrt(2))) + Z * np.exp(-0.5 * Z * Z) / np.sqrt(2 * np.pi)
        return dLdA * dAdZ
