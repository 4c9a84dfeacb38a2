import numpy as np

from .resampling import Downsample2d


class MaxPool2d_stride1:
    def __init__(self, kernel):
        self.kernel = kernel

    def forward(self, A):
        self.A = A
        k = self.kernel
        N, C, H, W = A.shape
        Z = np.zeros((N, C, H - k + 1, W - k + 1))
        self.argmax = np.zeros(Z.shape, dtype=int)
        for i in range(H - k + 1):
            for j in range(W - k + 1):
                window = A[:, :, i : i + k, j : j + k].reshape(N, C, -1)
                self.argmax[:, :, i, j] = np.argmax(window, axis=2)  # the first maximum, row by row
                Z[:, :, i, j] = np.max(window, axis=2)
        return Z

    def backward(self, dLdZ):
        k = self.kernel
        N, C, Ho, Wo = dLdZ.shape
        dLdA = np.zeros(self.A.shape)
        n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
        for i in range(Ho):
            for j in range(Wo):
                r, s = np.divmod(self.argmax[:, :, i, j], k)
                np.add.at(dLdA, (n, c, i + r, j + s), dLdZ[:, :, i, j])
        return dLdA


class MaxPool2d:
    def __init__(self, kernel, stride):
        self.kernel = kernel
        self.stride = stride
        self.maxpool2d_stride1 = MaxPool2d_stride1(kernel)
        self.downsample2d = Downsample2d(stride)

    def forward(self, A):
        return self.downsample2d.forward(self.maxpool2d_stride1.forward(A))

    def backward(self, dLdZ):
        return self.maxpool2d_stride1.backward(self.downsample2d.backward(dLdZ))


class MeanPool2d_stride1:
    def __init__(self, kernel):
        self.kernel = kernel

    def forward(self, A):
        self.input_shape = A.shape
        k = self.kernel
        N, C, H, W = A.shape
        Z = np.zeros((N, C, H - k + 1, W - k + 1))
        for i in range(H - k + 1):
            for j in range(W - k + 1):
                Z[:, :, i, j] = np.mean(A[:, :, i : i + k, j : j + k], axis=(2, 3))
        return Z

    def backward(self, dLdZ):
        k = self.kernel
        dLdA = np.zeros(self.input_shape)
        for i in range(dLdZ.shape[2]):
            for j in range(dLdZ.shape[3]):
                dLdA[:, :, i : i + k, j : j + k] += dLdZ[:, :, i : i + 1, j : j + 1] / (k * k)
        return dLdA


class MeanPool2d:
    def __init__(self, kernel, stride):
        self.kernel = kernel
        self.stride = stride
        self.meanpool2d_stride1 = MeanPool2d_stride1(kernel)
        self.downsample2d = Downsample2d(stride)

    def forward(self, A):
        return self.downsample2d.forward(self.meanpool2d_stride1.forward(A))

    def backward(self, dLdZ):
        return self.meanpool2d_stride1.backward(self.downsample2d.backward(dLdZ))
