import numpy as np

from .resampling import Downsample1d


class Conv1d_stride1:
    def __init__(self, in_channels, out_channels, kernel_size, weight_init_fn=None, bias_init_fn=None):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        if weight_init_fn is None:
            self.W = np.random.normal(0, 1.0, (out_channels, in_channels, kernel_size))
        else:
            self.W = weight_init_fn(out_channels, in_channels, kernel_size)
        self.b = np.zeros(out_channels) if bias_init_fn is None else bias_init_fn(out_channels)
        self.dLdW = np.zeros(self.W.shape)
        self.dLdb = np.zeros(self.b.shape)

    def forward(self, A):
        """A (N, C_in, W_in) -> Z (N, C_out, W_in − k + 1)"""
        self.A = A
        k = self.kernel_size
        out = A.shape[2] - k + 1
        Z = np.stack([np.tensordot(A[:, :, i : i + k], self.W, axes=([1, 2], [1, 2])) for i in range(out)], axis=2)
        return Z + self.b.reshape(1, -1, 1)

    def backward(self, dLdZ):
        k = self.kernel_size
        out = dLdZ.shape[2]
        self.dLdW = np.stack([np.tensordot(dLdZ, self.A[:, :, i : i + out], axes=([0, 2], [0, 2])) for i in range(k)], axis=2)
        self.dLdb = np.sum(dLdZ, axis=(0, 2))
        padded = np.pad(dLdZ, ((0, 0), (0, 0), (k - 1, k - 1)))
        flipped = np.flip(self.W, axis=2)
        return np.stack(
            [np.tensordot(padded[:, :, i : i + k], flipped, axes=([1, 2], [0, 2])) for i in range(self.A.shape[2])], axis=2
        )


class Conv1d:
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding=0, weight_init_fn=None, bias_init_fn=None):
        self.stride = stride
        self.pad = padding
        self.conv1d_stride1 = Conv1d_stride1(in_channels, out_channels, kernel_size, weight_init_fn, bias_init_fn)
        self.downsample1d = Downsample1d(stride)

    def forward(self, A):
        A = np.pad(A, ((0, 0), (0, 0), (self.pad, self.pad)))
        return self.downsample1d.forward(self.conv1d_stride1.forward(A))

    def backward(self, dLdZ):
        dLdA = self.conv1d_stride1.backward(self.downsample1d.backward(dLdZ))
        return dLdA[:, :, self.pad : dLdA.shape[2] - self.pad]
