import numpy as np

from .resampling import Downsample2d


class Conv2d_stride1:
    def __init__(self, in_channels, out_channels, kernel_size, weight_init_fn=None, bias_init_fn=None):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        if weight_init_fn is None:
            self.W = np.random.normal(0, 1.0, (out_channels, in_channels, kernel_size, kernel_size))
        else:
            self.W = weight_init_fn(out_channels, in_channels, kernel_size, kernel_size)
        self.b = np.zeros(out_channels) if bias_init_fn is None else bias_init_fn(out_channels)
        self.dLdW = np.zeros(self.W.shape)
        self.dLdb = np.zeros(self.b.shape)

    def forward(self, A):
        """A (N, C_in, H, W) -> Z (N, C_out, H − k + 1, W − k + 1)"""
        self.A = A
        k = self.kernel_size
        N, _, H, W = A.shape
        Z = np.zeros((N, self.out_channels, H - k + 1, W - k + 1))
        for i in range(H - k + 1):
            for j in range(W - k + 1):
                Z[:, :, i, j] = np.tensordot(A[:, :, i : i + k, j : j + k], self.W, axes=([1, 2, 3], [1, 2, 3]))
        return Z + self.b.reshape(1, -1, 1, 1)

    def backward(self, dLdZ):
        k = self.kernel_size
        _, _, Ho, Wo = dLdZ.shape
        dLdA = np.zeros(self.A.shape)
        self.dLdW = np.zeros(self.W.shape)
        for i in range(Ho):
            for j in range(Wo):
                window = self.A[:, :, i : i + k, j : j + k]
                self.dLdW += np.tensordot(dLdZ[:, :, i, j], window, axes=([0], [0]))
                dLdA[:, :, i : i + k, j : j + k] += np.tensordot(dLdZ[:, :, i, j], self.W, axes=([1], [0]))
        self.dLdb = np.sum(dLdZ, axis=(0, 2, 3))
        return dLdA


class Conv2d:
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding=0, weight_init_fn=None, bias_init_fn=None):
        self.stride = stride
        self.pad = padding
        self.conv2d_stride1 = Conv2d_stride1(in_channels, out_channels, kernel_size, weight_init_fn, bias_init_fn)
        self.downsample2d = Downsample2d(stride)

    def forward(self, A):
        p = self.pad
        A = np.pad(A, ((0, 0), (0, 0), (p, p), (p, p)))
        return self.downsample2d.forward(self.conv2d_stride1.forward(A))

    def backward(self, dLdZ):
        dLdA = self.conv2d_stride1.backward(self.downsample2d.backward(dLdZ))
        p = self.pad
        return dLdA[:, :, p : dLdA.shape[2] - p, p : dLdA.shape[3] - p]
