import numpy as np


class Downsample2d:
    def __init__(self, downsampling_factor):
        self.downsampling_factor = downsampling_factor

    def forward(self, A):
        self.input_shape = A.shape
        k = self.downsampling_factor
        return A[:, :, ::k, ::k].copy()

    def backward(self, dLdZ):
        k = self.downsampling_factor
        dLdA = np.zeros(self.input_shape)
        dLdA[:, :, ::k, ::k] = dLdZ
        return dLdA
