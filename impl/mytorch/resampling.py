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


class Downsample1d:
    def __init__(self, downsampling_factor):
        self.downsampling_factor = downsampling_factor

    def forward(self, A):
        self.input_width = A.shape[2]
        return A[:, :, :: self.downsampling_factor].copy()

    def backward(self, dLdZ):
        dLdA = np.zeros((*dLdZ.shape[:2], self.input_width))
        dLdA[:, :, :: self.downsampling_factor] = dLdZ
        return dLdA
