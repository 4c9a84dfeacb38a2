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


class Upsample1d:
    def __init__(self, upsampling_factor):
        self.upsampling_factor = upsampling_factor

    def forward(self, A):
        """A (N, C, W) -> Z (N, C, k·(W − 1) + 1): A's samples k apart, zeros between"""
        k = self.upsampling_factor
        Z = np.zeros((A.shape[0], A.shape[1], k * (A.shape[2] - 1) + 1))
        Z[:, :, ::k] = A
        return Z

    def backward(self, dLdZ):
        """dLdZ (N, C, Wo) -> dLdA (N, C, W) = dLdZ[:, :, ::k]"""
        return dLdZ[:, :, :: self.upsampling_factor].copy()


class Upsample2d:
    def __init__(self, upsampling_factor):
        self.upsampling_factor = upsampling_factor

    def forward(self, A):
        """A (N, C, H, W) -> Z (N, C, k·(H − 1) + 1, k·(W − 1) + 1)"""
        k = self.upsampling_factor
        Z = np.zeros((A.shape[0], A.shape[1], k * (A.shape[2] - 1) + 1, k * (A.shape[3] - 1) + 1))
        Z[:, :, ::k, ::k] = A
        return Z

    def backward(self, dLdZ):
        """dLdZ (N, C, Ho, Wo) -> dLdA (N, C, H, W) = dLdZ[:, :, ::k, ::k]"""
        k = self.upsampling_factor
        return dLdZ[:, :, ::k, ::k].copy()
